//! `/api/v1/sql`: one read-only query over the catalog's tables.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::RowsColumn;
use crate::engine::memtable::Load;
use crate::engine::params::RowsFormat;
use crate::engine::task::{SqlEncoding, SqlHead, SqlTable, SqlTask};
use crate::error::{ApiError, ApiResult, Code, Problem, RateLimited};
use crate::reader::Reader;
use crate::state::AppState;

/// The result of a query.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "columns": [{"name": "aimag", "type": "string"}, {"name": "readings", "type": "integer"}],
    "rows": [{"aimag": "Улаанбаатар", "readings": 1204}],
    "truncated": false
}))]
pub struct SqlResponse {
    pub columns: Vec<RowsColumn>,
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    /// More rows matched than `limits.max_rows`; only that many are returned.
    pub truncated: bool,
}

/// Run a read-only SQL query.
///
/// One `SELECT` (CTEs, joins across datasets, GROUP BY, window functions: what polars SQL
/// supports) over the catalog's tables, each named by its `sql_name` (the latest version) or
/// `<sql_name>__v<N>` (version N). Anything else is refused with a 400 that says why: other
/// statements, table functions such as `read_csv`, paths, unknown tables. Results stop at
/// `limits.max_rows` rows, with `truncated: true` and an `X-Truncated` header.
#[utoipa::path(
    get, path = "/api/v1/sql", tag = "data",
    params(
        ("q" = String, Query, description = "The query", min_length = 1, example = "SELECT aimag_niislel, sum(khun_amyn_too) AS people FROM population_by_aimag__population GROUP BY aimag_niislel ORDER BY people DESC"),
        ("format" = Option<String>, Query, description = "`json` (default), `csv` or `ndjson`", example = "json"),
    ),
    responses(
        (status = 200, description = "The result", body = SqlResponse,
         content((SqlResponse = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "Invalid or refused query, or past a limit (`limit_exceeded`, `result_too_large`)", body = Problem, content_type = "application/problem+json",
         example = json!({"type": "urn:opendata:problem:sql_not_allowed", "title": "SQL not allowed", "status": 400,
             "detail": "`read_csv(…)`: table functions cannot be used; name a table", "code": "sql_not_allowed"})),
        (status = 503, description = "The query took too long, or too many are running", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn sql_get(State(state): State<AppState>, reader: Reader, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let (q, format) = params(raw.as_deref().unwrap_or_default().as_bytes());
    run(state, &reader, q, format).await
}

/// Run a read-only SQL query sent in the body.
///
/// The same as `GET`, for queries too long for a URL: the body is the query itself, a form
/// (`q=…&format=…`) or JSON (`{"q": "…", "format": "csv"}`).
#[utoipa::path(
    post, path = "/api/v1/sql", tag = "data",
    request_body(content = String, description = "The query, as text, a form or JSON", example = "SELECT count(*) FROM population_by_aimag__population"),
    responses(
        (status = 200, description = "The result", body = SqlResponse),
        (status = 400, description = "Invalid or refused query, or past a limit", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
        (status = 503, description = "The query took too long or needed too much memory, or too many are running", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sql_post(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (mut q, mut format) = params(raw.as_deref().unwrap_or_default().as_bytes());
    if kind.starts_with("application/json") {
        #[derive(serde::Deserialize)]
        struct Body {
            q: String,
            format: Option<String>,
        }
        let b: Body = serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(Code::InvalidParameter, format!("the body must be {{\"q\": \"…\"}}: {e}")))?;
        (q, format) = (Some(b.q), b.format.or(format));
    } else if kind.starts_with("application/x-www-form-urlencoded") {
        let (bq, bf) = params(&body);
        (q, format) = (bq.or(q), bf.or(format));
    } else if !body.is_empty() {
        q = Some(
            String::from_utf8(body.to_vec()).map_err(|_| ApiError::new(Code::InvalidSql, "the query is not UTF-8"))?,
        );
    }
    run(state, &reader, q, format).await
}

fn params(query: &[u8]) -> (Option<String>, Option<String>) {
    let (mut q, mut format) = (None, None);
    for (k, v) in form_urlencoded::parse(query) {
        match k.as_ref() {
            "q" => q = Some(v.into_owned()),
            "format" => format = Some(v.into_owned()),
            _ => {}
        }
    }
    (q, format)
}

async fn run(state: AppState, reader: &Reader, q: Option<String>, format: Option<String>) -> ApiResult<Response> {
    let q = q
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::new(Code::InvalidParameter, "give the query as `q`"))?;
    let format = format.as_deref().map(RowsFormat::parse).transpose()?.unwrap_or(RowsFormat::Json);
    let (head, body) = execute(&state, reader, q, SqlEncoding::Body(format)).await?;
    let kind = match format {
        RowsFormat::Json => "application/json",
        RowsFormat::Csv => "text/csv; charset=utf-8",
        RowsFormat::Ndjson => "application/x-ndjson",
    };
    let mut response = ([(header::CONTENT_TYPE, kind)], body).into_response();
    if head.truncated {
        response.headers_mut().insert("x-truncated", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Checks one query, names its tables' files, and runs it in a query worker: the result's
/// columns and whether it stopped at `limits.max_rows`, and the result in `encoding`.
pub(crate) async fn execute(
    state: &AppState,
    reader: &Reader,
    q: String,
    encoding: SqlEncoding,
) -> ApiResult<(SqlHead, Vec<u8>)> {
    let bounds = state.config.limits.sql_bounds();
    // Off the async threads: a query of the largest allowed size takes a while to tokenize.
    let (q, checked) = tokio::task::spawn_blocking(move || {
        let checked = crate::engine::sql::check(&q, &bounds);
        (q, checked)
    })
    .await
    .map_err(ApiError::internal)?;
    let crate::engine::sql::Checked { relations, joins, .. } = checked?;
    // A private table is no table at all to a reader outside its organization.
    let datasets = reader.datasets(state.store.catalog())?;
    let mut tables = Vec::with_capacity(relations.len());
    let mut versions = Vec::with_capacity(relations.len());
    for r in &relations {
        let named = |name: &str| datasets.iter().flat_map(|d| &d.tables).find(|t| t.sql_name == name);
        // A table whose own name ends in `__v2` is that table, not version 2 of another.
        let (table, version) = match named(&r.name) {
            Some(table) => (table, None),
            None => (
                named(&r.sql_name).ok_or_else(|| {
                    ApiError::new(Code::UnknownTable, format!("no table `{}` in the catalog", r.sql_name))
                })?,
                r.version,
            ),
        };
        let version = table.version(version)?;
        versions.push((r.name.clone(), version.clone()));
        tables.push(SqlTable {
            name: r.name.clone(),
            load: Load::new(crate::api::rows::local_file(state, version).await?, version),
            columns: version.columns.iter().map(|c| c.name.clone()).collect(),
        });
    }
    let max = state.config.limits.max_join_rows;
    let version_of = |name: &str| versions.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let made = crate::engine::joins::estimate(
        &joins,
        |t| version_of(t).map(|v| v.row_count),
        |t, c| version_of(t)?.columns.iter().find(|col| col.name == c).map(|col| col.stats.distinct_count),
    );
    if let Some(made) = made.filter(|&n| n > max) {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!(
                "the query's joins would make about {made} rows; at most {max} are allowed (limits.max_join_rows): \
                 join on a key, or filter first"
            ),
        ));
    }
    let task = SqlTask {
        q,
        tables,
        limits: state.config.limits.clone(),
        encoding,
        data_dir: state.store.root().display().to_string(),
    };
    state.engine.sql(task).await
}
