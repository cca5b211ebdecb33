//! `GET …/versions/{n}/source`: the file an agency sent, byte for byte, as researchers
//! cite it. Served as a download whatever it holds: an attachment, with a type chosen from
//! the format the ingest read (never from the file's name or bytes) and `nosniff`, so a
//! crafted upload cannot become a page of this site.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::rows::{serve_file, set_cache_headers};
use crate::error::{ApiError, ApiResult, Code, Gone, Problem, RateLimited};
use crate::state::AppState;

/// The content type of an original, by the format the ingest read it as.
fn content_type(format: &str) -> &'static str {
    match format {
        "csv" | "tsv" => "text/csv",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xls" => "application/vnd.ms-excel",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "json" | "geojson" => "application/json",
        "ndjson" => "application/x-ndjson",
        "parquet" => "application/vnd.apache.parquet",
        _ => "application/octet-stream",
    }
}

/// `attachment` with the agency's file name: ASCII in `filename` (others become `_`), and
/// the name as given in `filename*` (RFC 6266), so a Cyrillic name survives.
pub(crate) fn disposition(name: &str) -> HeaderValue {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._- ".contains(c) { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Download the file as the agency sent it.
///
/// The original of a version, byte for byte (Range and ETag supported). Versions published
/// before originals were kept answer 404 `original_not_kept`.
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}/tables/{table}/versions/{version}/source", tag = "data",
    params(
        ("id" = String, Path, description = "Dataset id", example = "population-by-aimag"),
        ("table" = String, Path, description = "Table name", example = "main"),
        ("version" = u32, Path, description = "Version number", example = 1),
    ),
    responses(
        (status = 200, description = "The file as sent, as an attachment, typed by the format it was read as", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Vec<u8> = "application/vnd.ms-excel"),
            (Vec<u8> = "application/vnd.oasis.opendocument.spreadsheet"),
            (serde_json::Value = "application/json"),
            (String = "application/x-ndjson"),
            (Vec<u8> = "application/vnd.apache.parquet"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 206, description = "The requested byte range", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Vec<u8> = "application/vnd.ms-excel"),
            (Vec<u8> = "application/vnd.oasis.opendocument.spreadsheet"),
            (serde_json::Value = "application/json"),
            (String = "application/x-ndjson"),
            (Vec<u8> = "application/vnd.apache.parquet"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 304, description = "Not modified since the client's copy"),
        (status = 400, description = "The version is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dataset, table or version, or its original was not kept", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn original(
    State(state): State<AppState>,
    Path((id, table, version)): Path<(String, String, String)>,
    reader: crate::reader::Reader,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let dataset = reader.dataset(state.store.catalog(), &id)?;
    let t = dataset.table(&table)?;
    let number = super::version_number(&version)?;
    let v = t.version(Some(number))?;
    let Some(relative) = v.source.original.clone() else {
        return Err(ApiError::new(
            Code::OriginalNotKept,
            format!("version {number} of {id}/{table} was published before the files agencies send were kept"),
        ));
    };
    let store = state.store.clone();
    let path =
        tokio::task::spawn_blocking(move || store.original_path(&relative)).await.map_err(ApiError::internal)??;
    // Named by its content: the same bytes for good.
    let etag = format!("\"original-{}\"", v.content_hash);
    let mut res = serve_file(&path, &etag, &headers, content_type(&v.source.format)).await?;
    set_cache_headers(res.headers_mut(), &etag, true);
    res.headers_mut().insert(header::CONTENT_DISPOSITION, disposition(&v.source.file_name));
    res.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(res)
}
