//! CKAN's Action API (read side) under `/api/3/action/` and `/api/action/`, so that
//! `ckanapi`, `ckanr` and CKAN harvesters work against the portal unchanged.
//!
//! Names follow CKAN: a dataset is a *package* (`name` = the portal's id), a table is a
//! *resource* whose id is the table's `sql_name` — so `datastore_search_sql` queries name
//! resources exactly as CKAN's do. Answers use CKAN's `{help, success, result}` envelope,
//! and errors CKAN's `{success: false, error: {__type, message}}` shape: CKAN clients turn
//! `__type` back into exceptions (`NotFound`, `ValidationError`), which problem+json would
//! break. This is the API's one exception to problem+json, and it is documented.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use opendata_datasets::{Dataset, Organization, Table};
use serde_json::{Map, Value, json};

use super::base_url;
use crate::engine::PageBody;
use crate::engine::task::{PageEncoding, SqlEncoding};
use crate::error::ApiError;
#[cfg(test)]
use crate::error::Code;
use crate::reader::Reader;
use crate::state::AppState;

/// What a CKAN action answers: its result, or a CKAN error.
type ActionResult = Result<Value, CkanError>;

/// A CKAN error: `__type` is what clients match on.
#[derive(Debug)]
pub struct CkanError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl CkanError {
    fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, kind: "Not Found Error", message: message.into() }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self { status: StatusCode::CONFLICT, kind: "Validation Error", message: message.into() }
    }
}

impl From<ApiError> for CkanError {
    fn from(e: ApiError) -> Self {
        let status = e.code.status();
        let kind = match status {
            StatusCode::NOT_FOUND => "Not Found Error",
            s if s.is_client_error() => "Validation Error",
            _ => "Internal Server Error",
        };
        // A 500's detail is already generic; internals stay in the log.
        let message = e.detail.clone();
        if let Some(cause) = &e.internal {
            tracing::error!(code = e.code.as_str(), %cause, "CKAN action failed");
        }
        // CKAN reports validation failures as 409.
        let status =
            if kind == "Validation Error" && status == StatusCode::BAD_REQUEST { StatusCode::CONFLICT } else { status };
        Self { status, kind, message }
    }
}

impl From<opendata_datasets::Error> for CkanError {
    fn from(e: opendata_datasets::Error) -> Self {
        ApiError::from(e).into()
    }
}

/// The actions served, for `help_show` links and the "unknown action" message.
const ACTIONS: &[&str] = &[
    "status_show",
    "package_list",
    "package_show",
    "package_search",
    "organization_list",
    "organization_show",
    "group_list",
    "tag_list",
    "resource_show",
    "datastore_search",
    "datastore_search_sql",
];

/// The actions served, for the OpenAPI document.
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // Only its schema is used: handlers take the name as text, to answer unknown ones CKAN's way.
pub enum CkanAction {
    StatusShow,
    PackageList,
    PackageShow,
    PackageSearch,
    OrganizationList,
    OrganizationShow,
    GroupList,
    TagList,
    ResourceShow,
    DatastoreSearch,
    DatastoreSearchSql,
}

/// Call a CKAN action with a JSON body.
///
/// The same actions as `GET`, with the parameters as a JSON object in the body (as
/// `ckanapi` sends them) or a form.
#[utoipa::path(
    post, path = "/api/3/action/{action}", tag = "ckan",
    params(("action" = CkanAction, Path, description = "The action", example = "package_search")),
    request_body(content = serde_json::Value, description = "The action's parameters", content_type = "application/json",
                 example = json!({"q": "хүн ам", "rows": 5, "facet.field": ["organization"]})),
    responses(
        (status = 200, description = "`{help, success: true, result}`", body = serde_json::Value),
        (status = 404, description = "Not Found Error", body = serde_json::Value),
        (status = 409, description = "Validation Error", body = serde_json::Value),
        (status = 400, description = "Unknown action", body = serde_json::Value),
        (status = 429, response = crate::error::RateLimited),
    )
)]
pub async fn action(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = base_url(&state, &headers);
    let help = format!("{base}/api/3/action/help_show?name={name}");
    let reader = Reader::of(&headers, &state);
    let result = match (params(raw.as_deref(), &headers, &body), reader) {
        (Ok(p), Ok(reader)) => dispatch(&state, &reader, &base, &name, &p).await,
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(e.into()),
    };
    match result {
        Ok(result) => Json(json!({"help": help, "success": true, "result": result})).into_response(),
        Err(e) => {
            let error = json!({"__type": e.kind, "message": format!("{}: {}", e.kind, e.message)});
            let mut res = (e.status, Json(json!({"help": help, "success": false, "error": error}))).into_response();
            // A busy or stopped query says when to come back, as the API's 503s do.
            if e.status == StatusCode::SERVICE_UNAVAILABLE {
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
            }
            res
        }
    }
}

/// Call a CKAN action.
///
/// CKAN's Action API, read side, for CKAN clients (`ckanapi`, `ckanr`, harvesters):
/// `status_show`, `package_list`, `package_show`, `package_search`, `organization_list`,
/// `organization_show`, `group_list`, `tag_list`, `resource_show`, `datastore_search`,
/// `datastore_search_sql`. Parameters go in the query string, a JSON body or a form. Answers
/// are CKAN's `{help, success, result}`; errors are CKAN's `{success: false, error:
/// {__type, message}}` (404 Not Found Error, 409 Validation Error), not problem+json,
/// because CKAN clients rebuild their exceptions from `__type`. Also served at
/// `/api/action/{action}`, where `ckanapi` looks.
#[utoipa::path(
    get, path = "/api/3/action/{action}", tag = "ckan",
    params(
        ("action" = CkanAction, Path, description = "The action", example = "package_search"),
        ("q" = Option<String>, Query, description = "package_search: free text", example = "хүн ам"),
        ("fq" = Option<String>, Query, description = "package_search: `organization:`, `tags:`, `res_format:`, `license_id:` filters", example = "organization:nso"),
        ("rows" = Option<usize>, Query, description = "package_search: results (default 10, at most 1000)", example = 10),
        ("start" = Option<usize>, Query, description = "package_search: results to skip", example = 0),
        ("id" = Option<String>, Query, description = "package_show, organization_show, resource_show: the id", example = "population-by-aimag"),
        ("resource_id" = Option<String>, Query, description = "datastore_search: a table's `sql_name`", example = "population_by_aimag__population"),
        ("sql" = Option<String>, Query, description = "datastore_search_sql: one SELECT", example = "SELECT count(*) FROM \"population_by_aimag__population\""),
    ),
    responses(
        (status = 200, description = "`{help, success: true, result}`", body = serde_json::Value,
         example = json!({"help": "http://127.0.0.1:8080/api/3/action/help_show?name=package_list", "success": true, "result": ["population-by-aimag"]})),
        (status = 404, description = "Not Found Error", body = serde_json::Value,
         example = json!({"help": "…", "success": false, "error": {"__type": "Not Found Error", "message": "Not Found Error: no dataset `nope`"}})),
        (status = 409, description = "Validation Error", body = serde_json::Value),
        (status = 400, description = "Unknown action", body = serde_json::Value),
        (status = 429, response = crate::error::RateLimited),
    )
)]
pub async fn action_get(state: State<AppState>, name: Path<String>, raw: RawQuery, headers: HeaderMap) -> Response {
    action(state, name, raw, headers, Bytes::new()).await
}

/// The action's parameters as JSON values: a JSON body as sent, a query string or form as
/// strings (CKAN accepts JSON-encoded lists and objects there, as `facet.field=["tags"]`).
fn params(raw: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, CkanError> {
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        out.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    let kind = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    if kind.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in form_urlencoded::parse(body) {
            out.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => out.extend(m),
            _ => return Err(CkanError::validation("the body must be a JSON object of the action's parameters")),
        }
    }
    Ok(out)
}

/// Runs one action for `reader`: private datasets are in its answers only for their
/// organization's members, as everywhere else.
async fn dispatch(state: &AppState, reader: &Reader, base: &str, name: &str, p: &Map<String, Value>) -> ActionResult {
    match name {
        "status_show" => Ok(json!({
            "site_title": "opendata",
            "site_url": base,
            "site_description": "Open data portal",
            "ckan_version": "2.10.0",
            "locale_default": "mn",
            "extensions": ["datastore"],
        })),
        "package_list" => {
            let mut ids: Vec<String> =
                reader.datasets(state.store.catalog())?.into_iter().map(|d| d.meta.id.clone()).collect();
            ids.sort();
            Ok(json!(page(ids, p)?))
        }
        "package_show" => {
            let id = required(p, "id")?;
            let d = reader
                .dataset(state.store.catalog(), &id)
                .map_err(|_| CkanError::not_found(format!("no dataset `{id}`")))?;
            let mut package = package(state, base, &d)?;
            if flag(p, "include_tracking")? {
                package["tracking_summary"] = tracking_summary(state, &d.meta.id)?;
            }
            Ok(package)
        }
        "package_search" => package_search(state, reader, base, p).await,
        "organization_list" => {
            let orgs = state.store.catalog().organizations()?;
            if flag(p, "all_fields")? {
                Ok(Value::Array(orgs.iter().map(|o| organization(o, None)).collect()))
            } else {
                Ok(json!(orgs.into_iter().map(|o| o.id).collect::<Vec<_>>()))
            }
        }
        "organization_show" => {
            let id = required(p, "id")?;
            let catalog = state.store.catalog();
            let org = catalog.organization(&id).map_err(|_| CkanError::not_found(format!("no organization `{id}`")))?;
            let datasets = reader.only_visible(catalog.datasets_of(&id)?);
            let mut o = organization(&org, Some(datasets.len()));
            if flag(p, "include_datasets")? {
                let packages = datasets.iter().map(|d| package(state, base, d)).collect::<Result<Vec<_>, _>>()?;
                o["packages"] = Value::Array(packages);
            }
            Ok(o)
        }
        // The portal has no groups; CKAN clients expect the action to exist.
        "group_list" => Ok(json!([])),
        "tag_list" => {
            let mut tags: Vec<String> =
                reader.datasets(state.store.catalog())?.into_iter().flat_map(|d| d.meta.tags.clone()).collect();
            tags.sort();
            tags.dedup();
            Ok(json!(tags))
        }
        "resource_show" => {
            let id = required(p, "id")?;
            let d = reader.datasets(state.store.catalog())?.into_iter().find(|d| {
                d.tables.iter().any(|t| t.sql_name == id) || d.resources.iter().any(|r| document_id(d, r) == id)
            });
            let d = d.ok_or_else(|| CkanError::not_found(format!("Resource was not found: {id}")))?;
            let all = resources(base, &d);
            Ok(all.into_iter().find(|r| r["id"] == id.as_str()).unwrap_or_default())
        }
        "datastore_search" => datastore_search(state, reader, p).await,
        "datastore_search_sql" => {
            let sql = required(p, "sql")?;
            let (head, body) = super::sql::execute(state, reader, sql.clone(), SqlEncoding::Records).await?;
            let fields: Vec<Value> =
                head.columns.iter().map(|c| json!({"id": c.name, "type": ckan_type(&c.kind)})).collect();
            let records: Value = serde_json::from_slice(&body).map_err(ApiError::internal)?;
            Ok(json!({"sql": sql, "fields": fields, "records": records, "records_truncated": head.truncated}))
        }
        "help_show" => Ok(json!(format!(
            "{} is served as in CKAN 2.10; see {base}/api/docs for the portal's own API",
            required(p, "name")?
        ))),
        other => Err(CkanError {
            status: StatusCode::BAD_REQUEST,
            kind: "Bad request",
            message: format!("Action name not known: {other} (served: {})", ACTIONS.join(", ")),
        }),
    }
}

fn text(p: &Map<String, Value>, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn required(p: &Map<String, Value>, key: &str) -> Result<String, CkanError> {
    text(p, key).filter(|s| !s.is_empty()).ok_or_else(|| CkanError::validation(format!("Missing value: {key}")))
}

fn number(p: &Map<String, Value>, key: &str, default: usize, max: usize) -> Result<usize, CkanError> {
    match text(p, key) {
        None => Ok(default),
        Some(s) => {
            s.parse::<usize>().map(|n| n.min(max)).map_err(|_| CkanError::validation(format!("{key}: Invalid integer")))
        }
    }
}

fn flag(p: &Map<String, Value>, key: &str) -> Result<bool, CkanError> {
    match text(p, key).as_deref() {
        None | Some("false" | "False" | "0" | "") => Ok(false),
        Some("true" | "True" | "1") => Ok(true),
        Some(other) => Err(CkanError::validation(format!("{key}: not a boolean: {other}"))),
    }
}

/// A list argument: a JSON list, or a JSON-encoded or comma-separated string.
fn list(p: &Map<String, Value>, key: &str) -> Vec<String> {
    match p.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(s)) => match serde_json::from_str::<Vec<String>>(s) {
            Ok(v) => v,
            Err(_) => s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect(),
        },
        _ => vec![],
    }
}

/// An object argument: a JSON object, or a JSON-encoded string.
fn object(p: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, CkanError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(Value::String(s)) => {
            serde_json::from_str(s).map_err(|_| CkanError::validation(format!("{key}: not a JSON object")))
        }
        Some(_) => Err(CkanError::validation(format!("{key}: not a JSON object"))),
    }
}

/// `limit`/`offset` paging of a plain list, as `package_list` takes it.
fn page(items: Vec<String>, p: &Map<String, Value>) -> Result<Vec<String>, CkanError> {
    let offset = number(p, "offset", 0, usize::MAX)?;
    let limit = number(p, "limit", usize::MAX, usize::MAX)?;
    Ok(items.into_iter().skip(offset).take(limit).collect())
}

fn organization(o: &Organization, package_count: Option<usize>) -> Value {
    let mut v = json!({
        "id": o.id, "name": o.id, "title": o.title, "display_name": o.title,
        "title_translated": {"mn": o.title, "en": o.title_en},
        "description": o.description, "type": "organization", "is_organization": true,
        "state": "active", "approval_status": "approved", "image_url": "",
    });
    if let Some(n) = package_count {
        v["package_count"] = json!(n);
    }
    v
}

fn ckan_type(portal: &str) -> &'static str {
    match portal {
        "integer" => "int",
        "float" => "numeric",
        "boolean" => "bool",
        "date" => "date",
        "datetime" => "timestamp",
        _ => "text",
    }
}

fn resource(base: &str, d: &Dataset, t: &Table, position: usize) -> Value {
    let v = t.latest();
    let url = format!("{base}/api/v1/datasets/{}/tables/{}/data.csv", d.meta.id, t.name);
    json!({
        "id": t.sql_name,
        "package_id": d.meta.id,
        "name": t.title,
        "description": format!("Table `{}`, version {}: {} rows. Also as Parquet, NDJSON and XLSX at {base}/api/v1/datasets/{}/tables/{}/data.{{parquet,ndjson,xlsx}}.", t.name, v.version, v.row_count, d.meta.id, t.name),
        "format": "CSV",
        "mimetype": "text/csv",
        "url": url,
        "url_type": "",
        "datastore_active": true,
        "size": Value::Null,
        "created": v.created_at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        "last_modified": v.created_at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        "position": position,
        "state": "active",
    })
}

/// A package's resources: its tables (the datastore serves them), then its documents and
/// links, in the order they were added.
fn resources(base: &str, d: &Dataset) -> Vec<Value> {
    let tables = d.tables.iter().enumerate().map(|(i, t)| resource(base, d, t, i));
    let documents = d.resources.iter().enumerate().map(|(i, r)| {
        let stamp = r.created_at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
        json!({
            "id": document_id(d, r),
            "package_id": d.meta.id,
            "name": r.title,
            "description": r.description,
            "format": r.format,
            "mimetype": r.file.as_ref().map(|_| r.media_type.as_str()),
            "url": super::resources::url_of(base, r),
            "url_type": if r.file.is_some() { "upload" } else { "" },
            "resource_type": if r.file.is_some() { "file.upload" } else { "link" },
            "datastore_active": false,
            "size": r.size,
            "created": stamp,
            "last_modified": stamp,
            "position": d.tables.len() + i,
            "state": "active",
        })
    });
    tables.chain(documents).collect()
}

/// A document's resource id: unique across the portal, as CKAN's are, and never equal to a
/// table's `sql_name` (which has no `:`).
fn document_id(d: &Dataset, r: &opendata_datasets::Resource) -> String {
    format!("{}:{}", d.meta.id, r.id)
}

/// CKAN's tracking extension's summary: all the uses recorded, and those of the last 14
/// days (CKAN counts page views; here views, downloads and API calls alike).
fn tracking_summary(state: &AppState, id: &str) -> ActionResult {
    let today = chrono::Utc::now().date_naive();
    // From 1970: PostgreSQL's dates do not reach chrono's earliest.
    let days = state.store.catalog().usage(id, chrono::NaiveDate::default())?;
    let pending = state.usage.pending_for(id);
    let all = || days.iter().chain(&pending);
    let recent_from = today - chrono::Days::new(13);
    let total: u64 = all().map(|(_, u)| u.total()).sum();
    let recent: u64 = all().filter(|(d, _)| *d >= recent_from).map(|(_, u)| u.total()).sum();
    Ok(json!({"total": total, "recent": recent}))
}

fn package(state: &AppState, base: &str, d: &Dataset) -> ActionResult {
    let m = &d.meta;
    let org = state.store.catalog().organization(&m.organization).ok();
    let created =
        d.tables.iter().filter_map(|t| t.versions.first().map(|v| v.created_at)).min().unwrap_or(d.updated_at);
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let resources = resources(base, d);
    Ok(json!({
        "id": m.id,
        "name": m.id,
        "title": m.title,
        "title_translated": {"mn": m.title, "en": m.title_en},
        "notes": m.description,
        "notes_translated": {"mn": m.description, "en": m.description_en},
        "owner_org": m.organization,
        "organization": org.as_ref().map(|o| organization(o, None)),
        "tags": m.tags.iter().map(|t| json!({"name": t, "display_name": t, "state": "active"})).collect::<Vec<_>>(),
        "num_tags": m.tags.len(),
        "license_id": m.license,
        "license_title": m.license,
        "url": m.source,
        "metadata_created": stamp(created),
        "metadata_modified": stamp(d.updated_at),
        "state": "active",
        "private": m.private,
        "type": "dataset",
        "groups": [],
        "extras": [],
        "resources": resources,
        "num_resources": d.tables.len() + d.resources.len(),
    }))
}

/// CKAN's Solr filter query, in the forms clients send: `field:value` terms (value quoted
/// or not), joined by spaces or `AND`.
fn filter_query(fq: &str, query: &mut search_index::SearchQuery) -> Result<(), CkanError> {
    let mut rest = fq.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("AND ").or_else(|| rest.strip_prefix("+")) {
            rest = r.trim_start();
            continue;
        }
        let (field, after) = rest
            .split_once(':')
            .ok_or_else(|| CkanError::validation(format!("fq: expected field:value, got `{rest}`")))?;
        let (value, after) = if let Some(r) = after.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            (&r[..end], r.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let value = Some(value.to_owned());
        match field.trim() {
            "organization" | "owner_org" => query.organization = value,
            "tags" => query.tag = value,
            "res_format" => query.format = value.map(|v| v.to_lowercase()),
            "license_id" => query.license = value,
            other => {
                return Err(CkanError::validation(format!(
                    "fq: the field `{other}` cannot be filtered on here (use organization, tags, res_format or license_id)"
                )));
            }
        }
        rest = after.trim_start();
    }
    Ok(())
}

async fn package_search(state: &AppState, reader: &Reader, base: &str, p: &Map<String, Value>) -> ActionResult {
    let rows = number(p, "rows", 10, 1000)?;
    let start = number(p, "start", 0, usize::MAX)?;
    let sort_text = text(p, "sort").unwrap_or_else(|| "score desc, metadata_modified desc".into());
    let sort = match sort_text.split(',').next().unwrap_or_default().trim() {
        "" | "score desc" | "relevance asc" => search_index::Sort::Relevance,
        "metadata_modified desc" => search_index::Sort::Updated,
        "title_string asc" | "name asc" | "title asc" => search_index::Sort::Title,
        // CKAN's tracking extension's names for "most viewed lately".
        "views_recent desc" | "views_total desc" => search_index::Sort::Popular,
        other => {
            return Err(CkanError::validation(format!(
                "sort: `{other}` is not supported (score desc, metadata_modified desc, title_string asc, views_recent desc)"
            )));
        }
    };
    let q = text(p, "q").filter(|q| q.trim() != "*:*" && !q.trim().is_empty());
    let mut query = search_index::SearchQuery {
        q,
        sort,
        offset: start,
        limit: rows.max(1),
        audience: reader.audience(),
        ..Default::default()
    };
    if let Some(fq) = text(p, "fq") {
        filter_query(&fq, &mut query)?;
    }
    let found = super::catalog::run_search(state, query).await?;
    let catalog = state.store.catalog();
    let mut results = Vec::new();
    if rows > 0 {
        for hit in &found.hits {
            if let Ok(d) = reader.dataset(catalog, &hit.id) {
                results.push(package(state, base, &d)?);
            }
        }
    }
    let mut facets = Map::new();
    let mut search_facets = Map::new();
    for field in list(p, "facet.field") {
        let counts = match field.as_str() {
            "organization" => &found.facets.organization,
            "tags" => &found.facets.tag,
            "res_format" => &found.facets.format,
            "license_id" => &found.facets.license,
            _ => continue,
        };
        let limit = number(p, "facet.limit", 50, usize::MAX)?;
        let counts: Vec<_> = counts.iter().take(limit).collect();
        facets.insert(field.clone(), Value::Object(counts.iter().map(|c| (c.value.clone(), json!(c.count))).collect()));
        let items: Vec<Value> =
            counts.iter().map(|c| json!({"name": c.value, "display_name": c.value, "count": c.count})).collect();
        search_facets.insert(field.clone(), json!({"title": field, "items": items}));
    }
    Ok(json!({
        "count": found.total,
        "results": results,
        "sort": sort_text,
        "facets": facets,
        "search_facets": search_facets,
    }))
}

/// The dataset and table behind a resource id (a table's `sql_name`).
fn resource_table(state: &AppState, reader: &Reader, id: &str) -> Result<(Arc<Dataset>, Table), CkanError> {
    for d in reader.datasets(state.store.catalog())? {
        if let Some(t) = d.tables.iter().find(|t| t.sql_name == id).cloned() {
            return Ok((d, t));
        }
    }
    Err(CkanError::not_found(format!("Resource was not found: {id}")))
}

async fn datastore_search(state: &AppState, reader: &Reader, p: &Map<String, Value>) -> ActionResult {
    let resource_id = required(p, "resource_id")?;
    let (d, t) = resource_table(state, reader, &resource_id)?;
    let limit = number(p, "limit", 100, state.config.limits.max_rows)?;
    let offset = number(p, "offset", 0, usize::MAX)?;
    let raw = rows_query(p, limit, offset)?;
    let format = text(p, "records_format").unwrap_or_else(|| "objects".into());
    let encoding = match format.as_str() {
        "objects" | "lists" => PageEncoding::Values,
        "csv" => PageEncoding::Csv { bom: false },
        other => {
            return Err(CkanError::validation(format!("records_format: `{other}` is not one of objects, lists, csv")));
        }
    };
    let super::rows::Page { version, request, body, total, .. } =
        super::rows::page_of(state, reader, &d.meta.id, &t.name, &raw, encoding).await?;
    let fields: Vec<Value> = request
        .select
        .iter()
        .filter_map(|name| version.columns.iter().find(|c| &c.name == name))
        .map(|c| json!({"id": c.name, "type": ckan_type(&c.kind.to_string()), "info": {"label": c.label, "notes": c.description}}))
        .collect();
    let records = match body {
        PageBody::Values(rows) if format == "lists" => json!(
            rows.into_iter()
                .map(|row| request
                    .select
                    .iter()
                    .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
                    .collect::<Vec<_>>())
                .collect::<Vec<_>>()
        ),
        PageBody::Values(rows) => json!(rows),
        // CKAN's csv records have no header row: the fields say what the columns are.
        PageBody::Bytes(csv) => {
            let text = String::from_utf8_lossy(&csv).into_owned();
            json!(text.split_once('\n').map(|(_, body)| body.to_owned()).unwrap_or_default())
        }
    };
    let link = |offset: usize| {
        format!("/api/3/action/datastore_search?resource_id={resource_id}&limit={limit}&offset={offset}")
    };
    let mut result = json!({
        "resource_id": resource_id,
        "fields": fields,
        "records": records,
        "records_format": format,
        "limit": limit,
        "offset": offset,
        "_links": {"start": link(0), "next": link(offset + limit)},
        "include_total": total.is_some(),
    });
    if let Some(total) = total {
        result["total"] = json!(total);
    }
    Ok(result)
}

/// `datastore_search`'s parameters in the rows API's syntax, which then checks columns,
/// operators and values.
fn rows_query(p: &Map<String, Value>, limit: usize, offset: usize) -> Result<String, CkanError> {
    let mut qs = form_urlencoded::Serializer::new(String::new());
    qs.append_pair("limit", &limit.to_string()).append_pair("offset", &offset.to_string());
    qs.append_pair(
        "total",
        if p.contains_key("include_total") && !flag(p, "include_total")? { "false" } else { "true" },
    );
    let fields = list(p, "fields");
    if !fields.is_empty() {
        qs.append_pair("select", &fields.join(","));
    }
    if let Some(sort) = text(p, "sort") {
        let order: Vec<String> = sort
            .split(',')
            .map(|term| {
                let mut words = term.split_whitespace();
                let column = words.next().unwrap_or_default().trim_matches('"');
                match words.next().map(str::to_lowercase).as_deref() {
                    Some("desc") => format!("-{column}"),
                    _ => column.to_owned(),
                }
            })
            .collect();
        qs.append_pair("order", &order.join(","));
    }
    for (column, value) in object(p, "filters")? {
        match value {
            Value::Array(values) => {
                let values: Vec<String> = values.iter().map(plain).collect();
                qs.append_pair(&format!("{column}__in"), &values.join(","))
            }
            v => qs.append_pair(&column, &plain(&v)),
        };
    }
    match p.get("q") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) if s.starts_with('{') => {
            for (column, value) in object(p, "q")? {
                qs.append_pair(&format!("{column}__contains"), &plain(&value));
            }
        }
        Some(Value::Object(m)) => {
            for (column, value) in m {
                qs.append_pair(&format!("{column}__contains"), &plain(value));
            }
        }
        Some(_) => {
            return Err(CkanError::validation(
                "q: full-text search over every column is not offered; give q as {\"column\": \"text\"}",
            ));
        }
    }
    Ok(qs.finish())
}

/// A filter value as text: strings as they are, anything else as JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solr_filter_queries_become_filters() {
        let mut q = search_index::SearchQuery::default();
        filter_query("organization:nso AND tags:\"хүн ам\" res_format:CSV", &mut q).unwrap();
        assert_eq!(q.organization.as_deref(), Some("nso"));
        assert_eq!(q.tag.as_deref(), Some("хүн ам"));
        assert_eq!(q.format.as_deref(), Some("csv"));
        assert!(filter_query("groups:x", &mut q).is_err());
        assert!(filter_query("nonsense", &mut q).is_err());
    }

    #[test]
    fn errors_keep_ckan_types() {
        let e: CkanError = ApiError::new(Code::UnknownColumn, "no column `x`").into();
        assert_eq!((e.status, e.kind), (StatusCode::CONFLICT, "Validation Error"));
        let e: CkanError = ApiError::new(Code::DatasetNotFound, "no dataset").into();
        assert_eq!((e.status, e.kind), (StatusCode::NOT_FOUND, "Not Found Error"));
    }
}
