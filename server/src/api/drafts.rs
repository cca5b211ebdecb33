//! Reviewing a draft: reading its file again with corrections (`POST …/versions/{n}/reread`)
//! and releasing it (`POST …/versions/{n}/publish`), now or at a time the publisher sets
//! (the release calendar statistics offices keep; the maintainer publishes it then).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opendata_datasets::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiQuery;
use super::model::VersionInfo;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Forbidden, Gone, Problem, RateLimited, Unauthorized};
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
        (status = 410, response = Gone),
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
    let number = super::version_number(&version)?;
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

/// Corrections to how a draft's file is read; what is absent is detected as before.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"delimiter": ";", "encoding": "windows-1251", "header_row": 3, "types": {"code": "text"}}))]
pub struct ReadAgain {
    /// A WHATWG encoding label (`windows-1251`, `utf-16le`).
    pub encoding: Option<String>,
    /// One character, or `tab`.
    pub delimiter: Option<String>,
    /// The 1-based row that holds the column names; 0 for a file without one.
    pub header_row: Option<usize>,
    /// Only this sheet of a workbook.
    pub sheet: Option<String>,
    /// Column types by column name: `text`, `integer`, `float`, `boolean`, `date`, `datetime`.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub types: std::collections::BTreeMap<String, opendata_datasets::ColumnType>,
    /// Values that mean "no value" in this file (`-999`, `н/б`), beside the usual ones
    /// (empty, `NA`, `..`, `-`): they become null in every column. At most 20, each at most
    /// 50 characters.
    #[serde(default)]
    pub null_markers: Vec<String>,
}

/// Read a draft's file again, with corrections.
///
/// The ingest guessed the encoding, delimiter, header row, sheet and column types; this
/// reads the same file (kept when it was uploaded) again with the publisher's corrections,
/// as a new draft of the table. Nothing is uploaded again. `202` with a job.
#[utoipa::path(
    post, path = "/api/v1/datasets/{id}/tables/{table}/versions/{version}/reread", tag = "publish",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Dataset id", example = "road-accidents"),
        ("table" = String, Path, description = "Table name", example = "main"),
        ("version" = u32, Path, description = "The draft's version number", example = 2),
    ),
    request_body = ReadAgain,
    responses(
        (status = 202, description = "Queued as a job", body = super::write::JobView),
        (status = 400, description = "Not a version number, or a correction that cannot apply", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset, or no such draft", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn reread(
    State(state): State<AppState>,
    Path((id, table, version)): Path<(String, String, String)>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let dataset = state.store.catalog().dataset(&id)?;
    caller.check(&dataset.meta.organization)?;
    let number = super::version_number(&version)?;
    let fixes: ReadAgain = super::write::json_body(&body)?;
    let fixes = read_fixes(fixes)?;
    let draft = state.store.catalog().draft(&id, &table)?.filter(|d| d.number == number);
    let draft =
        draft.ok_or_else(|| opendata_datasets::Error::DraftNotFound(format!("{id}/{table} has no draft {number}")))?;
    let job = super::uploads::reread(&state, &caller.0, Some(&caller.1), &draft, fixes)?;
    let location = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.id)).map_err(ApiError::internal)?;
    let mut res = (StatusCode::ACCEPTED, Json(super::write::view(&state, job)?)).into_response();
    res.headers_mut().insert(header::LOCATION, location);
    Ok(res)
}

/// Checks corrections before a job is queued for them: a bad one is a 400 now, not a
/// failed job later.
pub(crate) fn read_fixes(f: ReadAgain) -> ApiResult<opendata_datasets::ReadFixes> {
    opendata_ingest::manifest::parse_delimiter(f.delimiter.as_deref())
        .map_err(|e| ApiError::new(Code::InvalidParameter, format!("`delimiter`: {e}")))?;
    if let Some(label) = &f.encoding
        && encoding_rs::Encoding::for_label(label.as_bytes()).is_none()
    {
        return Err(ApiError::new(Code::InvalidParameter, format!("`encoding`: `{label}` is not an encoding label")));
    }
    let null_markers: Vec<String> =
        f.null_markers.iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
    if null_markers.len() > 20 || null_markers.iter().any(|m| m.chars().count() > 50) {
        return Err(ApiError::new(Code::InvalidParameter, "`null_markers`: at most 20, each at most 50 characters"));
    }
    Ok(opendata_datasets::ReadFixes {
        encoding: f.encoding,
        delimiter: f.delimiter,
        header_row: f.header_row,
        sheet: f.sheet,
        types: f.types,
        null_markers,
    })
}
