//! Data routes: a page of rows, and whole-table downloads.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use opendata_datasets::TableVersion;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::base_url;
use super::model::{RowsColumn, RowsResponse};
use crate::chart::{Chart, ChartSpec};
use crate::client::Client;
use crate::encode::ExportFormat;
use crate::engine::PageBody;
use crate::engine::params::{Cursor, RawParams, RowsFormat, RowsRequest};
use crate::engine::task::{ChartTask, ExportTask, PageEncoding, TableFile};
use crate::error::{ApiError, ApiResult, Code, Gone, Problem, RateLimited};
use crate::reader::Reader;
use crate::state::AppState;

/// A table version and the validated request against it.
struct Resolved {
    /// The table's name.
    table: String,
    version: TableVersion,
    request: RowsRequest,
    /// The request names its version (`version=` or a cursor): the answer never changes.
    pinned: bool,
}

fn resolve(state: &AppState, reader: &Reader, id: &str, table: &str, raw: Option<&str>) -> ApiResult<Resolved> {
    let dataset = reader.dataset(state.store.catalog(), id)?;
    let table = dataset
        .tables
        .iter()
        .find(|t| t.name == table)
        .ok_or_else(|| ApiError::new(Code::TableNotFound, format!("dataset `{id}` has no table `{table}`")))?;
    let params = RawParams::parse(raw);
    let (version, cursor) = params.version()?;
    let pinned = version.is_some();
    let version = table.version(version)?.clone();
    let request = params.resolve(&version.columns, cursor, &state.config.limits)?;
    Ok(Resolved { table: table.name.clone(), version, request, pinned })
}

/// A strong validator for one representation: the version's file (unique per version), the
/// route and the exact query. Computed before any data is read, so a 304 costs no query.
fn validator(version: &TableVersion, route: &str, raw: Option<&str>) -> String {
    let mut h = blake3::Hasher::new();
    for part in [version.file.as_str(), route, raw.unwrap_or_default()] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    format!("\"{}\"", &h.finalize().to_hex()[..32])
}

/// Whether `If-None-Match` names `etag` (or `*`).
pub(crate) fn client_has(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// `ETag` and `Cache-Control`: a pinned version never changes, so caches may keep it for a
/// year; a latest-version URL changes meaning with each ingest, so caches revalidate.
pub(crate) fn set_cache_headers(h: &mut HeaderMap, etag: &str, pinned: bool) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    let policy = if pinned { "public, max-age=31536000, immutable" } else { "public, no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
}

pub(crate) fn not_modified(etag: &str, pinned: bool) -> Response {
    let mut res = StatusCode::NOT_MODIFIED.into_response();
    set_cache_headers(res.headers_mut(), etag, pinned);
    res
}

/// The table version a request reads, as a worker task names it.
async fn file_of(state: &AppState, version: &TableVersion) -> ApiResult<TableFile> {
    Ok(TableFile {
        path: local_file(state, version).await?,
        version: version.version,
        columns: version.columns.clone(),
        row_count: version.row_count,
    })
}

/// A version's file on this node. From a bucket, a file not yet cached is read on a
/// blocking thread: it may be large.
pub(crate) async fn local_file(state: &AppState, version: &TableVersion) -> ApiResult<std::path::PathBuf> {
    if state.store.is_local(version) {
        return Ok(state.store.version_path(version)?);
    }
    let (store, version) = (state.store.clone(), version.clone());
    Ok(tokio::task::spawn_blocking(move || store.version_path(&version)).await.map_err(ApiError::internal)??)
}

/// One page of rows for a query string in the rows API's syntax. Other surfaces over the
/// same data (CKAN's `datastore_search`, the web preview) translate into this syntax.
pub(crate) async fn page_of(
    state: &AppState,
    reader: &Reader,
    id: &str,
    table: &str,
    raw: &str,
    encoding: PageEncoding,
) -> ApiResult<Page> {
    let Resolved { version, request, .. } = resolve(state, reader, id, table, Some(raw))?;
    let page = state.engine.page(file_of(state, &version).await?, raw, &request, encoding).await?;
    let next = page.after.map(|after| Cursor { version: version.version, after }.encode());
    Ok(Page { version, request, body: page.body, total: page.total, next })
}

/// The first `limit` rows of a version readers cannot see yet (a draft), for its
/// publisher's review: through the same query workers as every read.
pub(crate) async fn head_of(
    state: &AppState,
    version: &TableVersion,
    limit: usize,
) -> ApiResult<Vec<serde_json::Map<String, serde_json::Value>>> {
    let raw = format!("limit={limit}&total=false");
    let request = RawParams::parse(Some(&raw)).resolve(&version.columns, None, &state.config.limits)?;
    let page = state.engine.page(file_of(state, version).await?, &raw, &request, PageEncoding::Values).await?;
    Ok(page.body.into_rows())
}

/// A chart of a table version's rows under filters in the rows API's syntax (`raw`), as
/// `spec_pairs` ask for it; none when they ask for no chart.
pub(crate) async fn chart_of(
    state: &AppState,
    reader: &Reader,
    id: &str,
    table: &str,
    raw: &str,
    spec_pairs: &[(String, String)],
) -> ApiResult<Option<(ChartSpec, Chart)>> {
    let Resolved { version, .. } = resolve(state, reader, id, table, Some(raw))?;
    let Some(spec) = ChartSpec::parse(spec_pairs, &version.columns)? else { return Ok(None) };
    let task = ChartTask {
        table: file_of(state, &version).await?,
        raw: raw.to_owned(),
        limits: state.config.limits.clone(),
        spec: spec_pairs.to_vec(),
    };
    let chart = state.engine.chart(task).await?;
    Ok(Some((spec, chart)))
}

/// A page of rows and what was asked for it.
pub(crate) struct Page {
    pub version: TableVersion,
    pub request: RowsRequest,
    pub body: PageBody,
    pub total: Option<u64>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// Query rows of a table.
///
/// Filters are `<column>=<value>` (equality) or `<column>__<op>=<value>` with `op` one of
/// `ne`, `gt`, `gte`, `lt`, `lte`, `in` (comma-separated), `contains`, `startswith`, `isnull`
/// (`true`/`false`). Values are typed by the column: an unknown column, operator or a value
/// of the wrong type is a 400 that names it. Page with `next` (an opaque cursor).
///
/// Aggregates need no SQL: `group_by=a,b` with `count(*)`, `count(col)`, `sum(col)`,
/// `avg(col)`, `min(col)` or `max(col)` items in `select`, each optionally `... as name`
/// (default names: `count`, `sum_col`, `avg_col`…). Filters apply before grouping, `order`
/// names the answer's columns (keys or aliases), groups come ordered by the keys after it,
/// and `total` counts groups. `group_by` alone answers each group with its `count`. The same
/// parameters group the downloads (`data.csv`, …).
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}/tables/{table}/rows", tag = "data",
    params(
        ("id" = String, Path, description = "Dataset id", example = "air-quality-ub"),
        ("table" = String, Path, description = "Table name", example = "readings"),
        ("select" = Option<String>, Query, description = "Columns to return, comma-separated; with `group_by`, keys and aggregates (`count(*)`, `sum(col) as total`, `avg`, `min`, `max`)", example = "station_code,observed_at,value"),
        ("group_by" = Option<String>, Query, description = "Columns to group by, comma-separated: one row per group, with the aggregates of `select`", example = "aimag,indicator"),
        ("order" = Option<String>, Query, description = "Sort columns, comma-separated; `-` for descending", example = "-observed_at"),
        ("bbox" = Option<String>, Query, description = "Rows placed in this box, `min_lon,min_lat,max_lon,max_lat` in degrees: points inside it, or shapes whose bounding box meets it (tables with a geography)", example = "105.0,47.0,108.0,48.5"),
        ("limit" = Option<usize>, Query, description = "Rows per page: default 100, at most 10000", example = 100),
        ("offset" = Option<u64>, Query, description = "Rows to skip (prefer `cursor` for paging)", example = 0, maximum = 4611686018427387903_u64),
        ("cursor" = Option<String>, Query, description = "The `next` value of the previous page"),
        ("version" = Option<u32>, Query, description = "Table version; the latest by default", example = 1),
        ("format" = Option<String>, Query, description = "`json` (default), `csv` or `ndjson`", example = "json"),
        ("total" = Option<bool>, Query, description = "Count matching rows (default true); `false` skips the count", example = true),
        ("filters" = Option<std::collections::BTreeMap<String, String>>, Query, style = Form, explode,
         description = "`<column>=<value>` or `<column>__<op>=<value>`",
         example = json!({"station_code": "ST0042", "value__gte": "50"})),
    ),
    responses(
        (status = 200, description = "A page of rows", body = RowsResponse,
         content(
            (RowsResponse = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
         )),
        (status = 400, description = "Unknown column or operator, bad value or parameter", body = Problem, content_type = "application/problem+json",
         example = json!({"type": "urn:opendata:problem:unknown_operator", "title": "Unknown filter operator", "status": 400, "detail": "unknown operator `like` in `aimag__like`; operators are: eq, ne, gt, gte, lt, lte, in, contains, startswith, isnull", "code": "unknown_operator"})),
        (status = 404, description = "No such dataset, table or version", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The query took too long, or too many are running (`Retry-After` says when to retry)", body = Problem, content_type = "application/problem+json",
         example = json!({"type": "urn:opendata:problem:overloaded", "title": "Server busy", "status": 503, "detail": "too many queries are running; retry shortly", "code": "overloaded"})),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn rows(
    State(state): State<AppState>,
    Path((id, table)): Path<(String, String)>,
    reader: Reader,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    rows_as(state, reader, id, table, raw, headers, None).await
}

async fn rows_as(
    state: AppState,
    reader: Reader,
    id: String,
    table: String,
    raw: Option<String>,
    headers: HeaderMap,
    forced: Option<RowsFormat>,
) -> ApiResult<Response> {
    let Resolved { version, request, pinned, .. } = resolve(&state, &reader, &id, &table, raw.as_deref())?;
    let format = forced.or(request.format).unwrap_or(RowsFormat::Json);
    let etag = validator(&version, &format!("rows.{format:?}"), raw.as_deref());
    if client_has(&headers, &etag) {
        return Ok(not_modified(&etag, pinned));
    }
    let encoding = match format {
        RowsFormat::Json => PageEncoding::Values,
        RowsFormat::Csv => PageEncoding::Csv { bom: request.bom },
        RowsFormat::Ndjson => PageEncoding::Ndjson,
    };
    let page = state
        .engine
        .page(file_of(&state, &version).await?, raw.as_deref().unwrap_or_default(), &request, encoding)
        .await?;
    let (total, next) = (page.total, page.after.map(|after| Cursor { version: version.version, after }.encode()));
    let mut response = match (format, page.body) {
        (RowsFormat::Json, PageBody::Values(rows)) => {
            let columns: Vec<RowsColumn> = match &request.grouping {
                Some(g) => g
                    .columns(&version.columns)
                    .into_iter()
                    .map(|(name, kind)| RowsColumn { name, kind: kind.to_string() })
                    .collect(),
                None => {
                    let columns = version
                        .columns
                        .iter()
                        .filter(|c| request.select.contains(&c.name))
                        .map(|c| RowsColumn { name: c.name.clone(), kind: c.kind.to_string() });
                    // Columns in the order they were selected.
                    let mut columns: Vec<RowsColumn> = columns.collect();
                    columns.sort_by_key(|c| request.select.iter().position(|s| *s == c.name));
                    columns
                }
            };
            Json(RowsResponse { columns, rows, total, next: next.clone() }).into_response()
        }
        (RowsFormat::Csv, PageBody::Bytes(body)) => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
        }
        (RowsFormat::Ndjson, PageBody::Bytes(body)) => {
            ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
        }
        _ => return Err(ApiError::internal("a page came back in another encoding")),
    };
    // Text formats carry paging in headers, as their bodies have no room for it.
    let h = response.headers_mut();
    set_cache_headers(h, &etag, pinned);
    if let Some(total) = total {
        h.insert("x-total-count", HeaderValue::from(total));
    }
    if let Some(next) = next {
        let url = format!(
            "{}/api/v1/datasets/{id}/tables/{table}/rows?{}",
            base_url(&state, &headers),
            next_query(raw.as_deref(), &next)
        );
        if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            h.insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// The request's query string with `cursor` replaced and `offset` dropped.
fn next_query(raw: Option<&str>, cursor: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if k != "cursor" && k != "offset" {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair("cursor", cursor);
    out.finish()
}

/// Download a whole table version, or rows in another encoding.
///
/// `data.parquet`, `data.csv` and `data.ndjson` stream the whole table version (latest, or
/// `?version=N`) with no row limit, after the same filters, `select` and `order` as `rows`.
/// `data.xlsx` stops at Excel's 1,048,575 data rows and then says so (`X-Truncated: true`).
/// `data.geojson`, for a table with a geometry or longitude and latitude columns, is a
/// `FeatureCollection` of the rows (at most `limit` when given, for a map's preview), and
/// `bbox=min_lon,min_lat,max_lon,max_lat` keeps the rows placed in the box, here and in `rows`.
/// Without filters the Parquet file is served as stored, with `Range` and `ETag` support, so
/// DuckDB, polars or pyarrow can read it in place. `rows.json`, `rows.csv` and `rows.ndjson`
/// are the rows API in that encoding.
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}/tables/{table}/{file}", tag = "data",
    params(
        ("id" = String, Path, description = "Dataset id", example = "air-quality-ub"),
        ("table" = String, Path, description = "Table name", example = "readings"),
        ("file" = String, Path, description = "`data.parquet`, `data.csv`, `data.ndjson`, `data.xlsx`, `data.geojson`, `rows.json`, `rows.csv` or `rows.ndjson`", example = "data.parquet"),
        ("bbox" = Option<String>, Query, description = "Rows placed in this box, `min_lon,min_lat,max_lon,max_lat` (tables with a geography)", example = "105.0,47.0,108.0,48.5"),
        ("version" = Option<u32>, Query, description = "Table version; the latest by default", example = 1),
        ("bom" = Option<bool>, Query, description = "Start a CSV with a UTF-8 byte-order mark, for Excel", example = false),
        ("Range" = Option<String>, Header, description = "A single byte range (Parquet without filters)", example = "bytes=0-1023"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of a copy the client holds"),
    ),
    responses(
        (status = 200, description = "The whole file", content(
            (Vec<u8> = "application/vnd.apache.parquet"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Object = "application/geo+json"),
        )),
        (status = 206, description = "The requested byte range", body = Vec<u8>, content_type = "application/vnd.apache.parquet"),
        (status = 304, description = "The client's copy is current"),
        (status = 400, description = "Bad filter or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dataset, table, version or file", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range lies outside the file", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
        (status = 503, description = "Too many queries are running, or the download could not start in time (`Retry-After` says when to retry)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn table_file(
    State(state): State<AppState>,
    Path((id, table, file)): Path<(String, String, String)>,
    reader: Reader,
    RawQuery(raw): RawQuery,
    Client(client): Client,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let rows_format = match file.as_str() {
        "rows.json" => Some(RowsFormat::Json),
        "rows.csv" => Some(RowsFormat::Csv),
        "rows.ndjson" => Some(RowsFormat::Ndjson),
        _ => None,
    };
    if let Some(format) = rows_format {
        return rows_as(state, reader, id, table, raw, headers, Some(format)).await;
    }
    let Some(format) = ExportFormat::from_file_name(&file) else {
        return Err(ApiError::new(
            Code::RouteNotFound,
            format!("no file `{file}`; use data.parquet, data.csv, data.ndjson, data.xlsx, data.geojson or rows.json"),
        ));
    };
    let Resolved { table: t, version, request, pinned } = resolve(&state, &reader, &id, &table, raw.as_deref())?;
    if format == ExportFormat::GeoJson && opendata_datasets::geo::Geography::of(&version.columns).is_none() {
        return Err(ApiError::new(
            Code::RouteNotFound,
            "this table has no geography (a geometry, or longitude and latitude columns): no data.geojson",
        ));
    }
    let file_name = format!("{}__{}_v{}.{}", id, t, version.version, format.extension());
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")).map_err(ApiError::internal)?;
    let untouched = request.whole() && request.select.len() == version.columns.len();
    if format == ExportFormat::Parquet && untouched && state.config.redirect_downloads {
        // The file as stored: the bucket serves it, the node only signs the way there.
        if let Some(url) = state.store.signed_url(&version, std::time::Duration::from_secs(600))? {
            let location = HeaderValue::from_str(&url).map_err(ApiError::internal)?;
            return Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response());
        }
    }
    let path = local_file(&state, &version).await?;
    if format == ExportFormat::Parquet && untouched {
        let etag = format!("\"{}-{}-v{}-{}\"", id, t, version.version, version.byte_size);
        let mut res = serve_file(&path, &etag, &headers, format.content_type()).await?;
        set_cache_headers(res.headers_mut(), &etag, pinned);
        res.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
        return Ok(res);
    }
    let etag = validator(&version, &file, raw.as_deref());
    if client_has(&headers, &etag) {
        return Ok(not_modified(&etag, pinned));
    }
    let Some(share) = state.exports.take(client) else {
        return Err(ApiError::new(
            Code::TooManyExports,
            format!(
                "this address already runs {} downloads (limits.max_exports_per_client); wait for one to finish",
                state.config.limits.max_exports_per_client
            ),
        ));
    };
    let task = ExportTask {
        table: file_of(&state, &version).await?,
        raw: raw.clone().unwrap_or_default(),
        limits: state.config.limits.clone(),
        format,
    };
    let (head, chunks) = state.engine.export(task).await?;
    let truncated = head.truncated;
    // The client's share of downloads is held as long as its body is.
    let body = Body::from_stream(chunks.map(move |chunk| {
        let _held = &share;
        chunk
    }));
    let mut res = Response::new(body);
    let h = res.headers_mut();
    if truncated {
        // The body is a valid workbook of the first rows; the headers say it is not all.
        h.insert("x-truncated", HeaderValue::from_static("true"));
        h.insert("x-row-limit", HeaderValue::from(crate::xlsx::MAX_ROWS));
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    h.insert(header::CONTENT_DISPOSITION, disposition);
    set_cache_headers(h, &etag, pinned);
    Ok(res)
}

/// Serves a stored file with a strong ETag, `If-None-Match` and a single `Range`.
pub(crate) async fn serve_file(
    path: &std::path::Path,
    etag: &str,
    headers: &HeaderMap,
    content_type: &'static str,
) -> ApiResult<Response> {
    let mut file = tokio::fs::File::open(path).await.map_err(ApiError::internal)?;
    let size = file.metadata().await.map_err(ApiError::internal)?.len();
    let etag_value = HeaderValue::from_str(etag).map_err(ApiError::internal)?;
    if client_has(headers, etag) {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        res.headers_mut().insert(header::ETAG, etag_value);
        return Ok(res);
    }
    // If-Range with another validator means the client's partial copy is stale: send it all.
    let if_range_ok = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_none_or(|v| v == etag);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if if_range_ok => parse_range(r, size)?,
        _ => None,
    };
    let (status, start, len) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(ApiError::internal)?;
    let stream = ReaderStream::with_capacity(file.take(len), 256 * 1024).map(|r| r.map_err(std::io::Error::other));
    let mut res = Response::new(Body::from_stream(stream));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, etag_value);
    if status == StatusCode::PARTIAL_CONTENT {
        let v = format!("bytes {}-{}/{}", start, start + len - 1, size);
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&v).map_err(ApiError::internal)?);
    }
    Ok(res)
}

/// Parses one `bytes=` range. Several ranges are answered with the whole file (allowed by
/// RFC 9110); an unsatisfiable one is a 416.
fn parse_range(header: &str, size: u64) -> ApiResult<Option<(u64, u64)>> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let unsatisfiable =
        || ApiError::new(Code::RangeNotSatisfiable, format!("range `{header}` is outside the file of {size} bytes"));
    let (a, b) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| unsatisfiable())?;
            if n == 0 {
                return Err(unsatisfiable());
            }
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        (start, "") => (start.parse().map_err(|_| unsatisfiable())?, size.saturating_sub(1)),
        (start, end) => {
            let s: u64 = start.parse().map_err(|_| unsatisfiable())?;
            let e: u64 = end.parse().map_err(|_| unsatisfiable())?;
            (s, e.min(size.saturating_sub(1)))
        }
    };
    if size == 0 || start >= size || start > end {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-1000", 100).unwrap(), Some((50, 99)));
        assert_eq!(parse_range("bytes=0-1,5-6", 100).unwrap(), None);
        assert!(parse_range("bytes=100-", 100).is_err());
        assert!(parse_range("bytes=9-3", 100).is_err());
    }
}
