//! Releasing a draft: `POST …/versions/{n}/publish`, now or at a time the publisher sets
//! (the release calendar statistics offices keep; the maintainer publishes it then).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opendata_datasets::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiQuery;
use super::model::VersionInfo;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Forbidden, Problem, RateLimited, Unauthorized};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct PublishParams {
    /// Publish at this time (RFC 3339) instead of now; the draft stays invisible until then.
    #[param(example = "2027-01-15T09:00:00+08:00")]
    pub publish_at: Option<DateTime<Utc>>,
    /// Publish even though the draft removes columns or changes their types (without it,
    /// such a draft answers `409 breaking_change`, naming them).
    pub confirm: Option<bool>,
}

/// A draft scheduled for release.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scheduled {
    pub dataset: String,
    pub table: String,
    pub version: u32,
    pub publish_at: DateTime<Utc>,
}

/// Publish a draft version, now or at a set time.
///
/// The draft becomes the table's latest version, visible to every reader, API and download.
/// With `publish_at` in the future it is scheduled instead (`202`), and published then. A
/// draft that a version published since has overtaken is gone: upload it again.
#[utoipa::path(
    post, path = "/api/v1/datasets/{id}/tables/{table}/versions/{version}/publish", tag = "publish",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Dataset id", example = "road-accidents"),
        ("table" = String, Path, description = "Table name", example = "main"),
        ("version" = u32, Path, description = "The draft's version number", example = 2),
        PublishParams,
    ),
    responses(
        (status = 200, description = "Published", body = VersionInfo),
        (status = 202, description = "Scheduled", body = Scheduled),
        (status = 400, description = "The version is not a number, or `publish_at` not a time", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset, or no such draft", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The draft removes or retypes columns, and `confirm` was not given", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn publish(
    State(state): State<AppState>,
    Path((id, table, version)): Path<(String, String, String)>,
    ApiQuery(p): ApiQuery<PublishParams>,
    caller: Caller,
) -> ApiResult<Response> {
    let dataset = state.store.catalog().dataset(&id)?;
    caller.check(&dataset.meta.organization)?;
    let number: u32 = version
        .parse()
        .map_err(|_| ApiError::new(Code::InvalidParameter, format!("`{version}` is not a version number")))?;
    let entry = |action: &str, detail: String| AuditEntry {
        at: Utc::now(),
        user: caller.0.id.clone(),
        action: action.into(),
        target: format!("{id}/{table}"),
        detail,
    };
    if let Some(at) = p.publish_at.filter(|at| *at > Utc::now()) {
        let (store, (i, t)) = (state.store.clone(), (id.clone(), table.clone()));
        let confirmed = p.confirm.unwrap_or(false);
        tokio::task::spawn_blocking(move || store.schedule_draft(&i, &t, number, at, confirmed))
            .await
            .map_err(ApiError::internal)??;
        state.store.catalog().record(&entry("version.schedule", format!("version {number} at {at}")))?;
        state.maintain.notify_one();
        let scheduled = Scheduled { dataset: id, table, version: number, publish_at: at };
        return Ok((StatusCode::ACCEPTED, Json(scheduled)).into_response());
    }
    let (store, (i, t), confirmed) = (state.store.clone(), (id.clone(), table.clone()), p.confirm.unwrap_or(false));
    let published = tokio::task::spawn_blocking(move || store.publish_draft(&i, &t, number, confirmed))
        .await
        .map_err(ApiError::internal)??;
    state.store.catalog().record(&entry("version.publish", format!("version {}", published.version)))?;
    crate::publish::index_dataset(&state.store, &state.index, &id).map_err(ApiError::internal)?;
    Ok(Json(VersionInfo::from(&published)).into_response())
}
