//! `…/versions/{n}/changes.csv|ndjson?since=M`: the rows added and removed between two
//! versions, for readers who follow a dataset (see [`crate::engine::changes`]).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::rows::{client_has, local_file, not_modified, set_cache_headers};
use crate::engine::task::{ChangesTask, PageEncoding};
use crate::error::{ApiError, ApiResult, Code, Gone, Problem, RateLimited};
use crate::reader::Reader;
use crate::state::AppState;

/// Rows added and removed between two versions.
///
/// Every row of version `since` (default: the version before) that version `version` no
/// longer has, then every row it gained, each with a `_change` column (`removed` or
/// `added`) first. Rows are compared whole, over the columns both versions share, as the
/// version's `changes` counts them. Both versions are named, so the answer never changes.
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}/tables/{table}/versions/{version}/{file}", tag = "data",
    params(
        ("id" = String, Path, description = "Dataset id", example = "population"),
        ("table" = String, Path, description = "Table name", example = "main"),
        ("version" = u32, Path, description = "The later version", example = 2),
        ("file" = String, Path, description = "`changes.csv` or `changes.ndjson`", example = "changes.csv"),
        ("since" = Option<u32>, Query, description = "The earlier version; the one before `version` by default", example = 1),
    ),
    responses(
        (status = 200, description = "The rows removed, then the rows added",
         content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "`since` is not an earlier version", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dataset, table, version or file", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn changes(
    State(state): State<AppState>,
    Path((id, table, version, file)): Path<(String, String, String, String)>,
    reader: Reader,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (encoding, kind) = match file.as_str() {
        "changes.csv" => (PageEncoding::Csv { bom: false }, "text/csv; charset=utf-8"),
        "changes.ndjson" => (PageEncoding::Ndjson, "application/x-ndjson"),
        _ => return Err(ApiError::new(Code::RouteNotFound, format!("no `{file}`; try changes.csv or changes.ndjson"))),
    };
    let version = super::version_number(&version)?;
    let dataset = reader.dataset(state.store.catalog(), &id)?;
    let t = dataset.table(&table)?;
    let after = t.version(Some(version))?;
    let since = match form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).find(|(k, _)| k == "since") {
        Some((_, v)) => v.parse::<u32>().map_err(|_| {
            ApiError::new(Code::InvalidParameter, format!("`since` must be a version number, not `{v}`"))
        })?,
        None => version
            .checked_sub(1)
            .filter(|v| *v > 0)
            .ok_or_else(|| ApiError::new(Code::InvalidParameter, "version 1 is the first: nothing came before it"))?,
    };
    if since >= version {
        return Err(ApiError::new(Code::InvalidParameter, format!("`since` must be earlier than version {version}")));
    }
    let before = t.version(Some(since))?;
    // Each version's file name is its own: the pair names this answer for good.
    let names = format!("{}\0{}\0{file}", before.file, after.file);
    let etag = format!("\"{}\"", &blake3::hash(names.as_bytes()).to_hex()[..32]);
    if client_has(&headers, &etag) {
        return Ok(not_modified(&etag, true));
    }
    let task = ChangesTask {
        before: local_file(&state, before).await?,
        after: local_file(&state, after).await?,
        limits: state.config.limits.clone(),
        encoding,
    };
    let body = state.engine.changes(task).await?;
    let mut res = ([(header::CONTENT_TYPE, kind)], body).into_response();
    set_cache_headers(res.headers_mut(), &etag, true);
    Ok(res)
}
