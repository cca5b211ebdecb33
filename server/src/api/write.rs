//! The write API: publishers create, edit and withdraw datasets and upload new versions,
//! which run as ingest jobs. Every route needs a bearer token whose user may act on the
//! dataset's organization; every write lands in the audit log.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use opendata_datasets::{AuditEntry, Change, DatasetMeta, Job, JobStatus, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::DatasetDetail;
use super::uploads;
use super::{ApiQuery, base_url};
use crate::auth::{Caller, may_publish};
use crate::error::{ApiError, ApiResult, Code, Forbidden, Gone, Problem, RateLimited, Unauthorized};
use crate::state::AppState;

/// A new dataset's metadata.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "road-accidents", "organization": "nso", "title": "Зам тээврийн осол",
    "title_en": "Road traffic accidents", "tags": ["тээвэр"], "license": "CC-BY-4.0"}))]
pub struct NewDataset {
    /// A slug: lowercase letters, digits and `-`.
    pub id: String,
    pub organization: String,
    pub title: String,
    pub title_en: Option<String>,
    #[serde(default)]
    pub description: String,
    pub description_en: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// An SPDX id; `CC-BY-4.0` when not given.
    pub license: Option<String>,
    /// Where the data comes from. A dataset with a source and no tables is a
    /// metadata-only entry linking to an external resource.
    pub source: Option<String>,
    /// How often it is updated: `continuous`, `daily`, `weekly`, `monthly`, `quarterly`,
    /// `biannual`, `annual`, `irregular` or `never`.
    pub frequency: Option<String>,
    /// The period the data covers (`2010–2024`).
    pub temporal: Option<String>,
    /// The places it covers (`Ulaanbaatar, by district`).
    pub spatial: Option<String>,
    /// Seen only by the organization's members until made public.
    #[serde(default)]
    pub private: bool,
}

/// Metadata to change; what is absent stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title_en": "Road traffic accidents, monthly", "tags": ["тээвэр", "transport"]}))]
pub struct DatasetPatch {
    pub organization: Option<String>,
    pub title: Option<String>,
    pub title_en: Option<String>,
    pub description: Option<String>,
    pub description_en: Option<String>,
    pub tags: Option<Vec<String>>,
    pub license: Option<String>,
    pub source: Option<String>,
    pub frequency: Option<String>,
    pub temporal: Option<String>,
    pub spatial: Option<String>,
    /// `true` hides it from everyone outside the organization; `false` publishes it.
    pub private: Option<bool>,
}

/// An ingest job, as `GET /api/v1/jobs/{id}` reports it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "3f2a9c1e0b7d", "dataset": "road-accidents", "table": "main", "status": "succeeded",
    "created_at": "2026-11-25T10:00:00Z", "finished_at": "2026-11-25T10:00:02Z", "version": 2}))]
pub struct JobView {
    pub id: String,
    pub dataset: String,
    pub table: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub created_at: chrono::DateTime<Utc>,
    pub finished_at: Option<chrono::DateTime<Utc>>,
    pub version: Option<u32>,
    /// The version is a draft, for its organization to review: `POST
    /// /api/v1/datasets/{id}/tables/{table}/versions/{version}/publish` releases it.
    pub draft: bool,
    pub error: Option<String>,
    /// The version's quality report, once it succeeded.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

pub(crate) fn entry(user: &User, action: &str, target: &str, detail: String) -> AuditEntry {
    AuditEntry { at: Utc::now(), user: user.id.clone(), action: action.into(), target: target.into(), detail }
}

/// Makes `change` with its audit entry, in one transaction.
pub(crate) fn audited(
    state: &AppState,
    user: &User,
    change: Change<'_>,
    action: &str,
    target: &str,
    detail: String,
) -> ApiResult<()> {
    Ok(state.store.catalog().audited(&change, &entry(user, action, target, detail))?)
}

fn reindex(state: &AppState, id: &str) -> ApiResult<()> {
    crate::publish::index_dataset(&state.store, &state.index, id).map_err(ApiError::internal)
}

/// Create a dataset.
///
/// Metadata only; tables arrive as uploaded versions. Needs a token of a member of the
/// organization (or a site admin).
#[utoipa::path(
    post, path = "/api/v1/datasets", tag = "publish", security(("bearer" = [])),
    request_body = NewDataset,
    responses(
        (status = 201, description = "Created", body = DatasetDetail),
        (status = 400, description = "Invalid metadata", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = "The id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The id is a withdrawn dataset's: choose another", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn create_dataset(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let new: NewDataset = json_body(&body)?;
    caller.check(&new.organization)?;
    let id = create(&state, &caller.0, new)?;
    let catalog = state.store.catalog();
    let meta = catalog.dataset(&id)?.meta.clone();
    let d = catalog.dataset(&meta.id)?;
    let mut res = (StatusCode::CREATED, Json(DatasetDetail::new(&d, &base_url(&state, &headers)))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/datasets/{}", meta.id)) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

/// Creates a dataset for `user`, who may publish for its organization: checked, audited
/// and searchable at once. Its id.
pub(crate) fn create(state: &AppState, user: &User, new: NewDataset) -> ApiResult<String> {
    may_publish(user, &new.organization)?;
    opendata_datasets::ident::validate_local_id(&new.id)
        .map_err(|e| ApiError::new(Code::InvalidParameter, format!("`id`: {e}")))?;
    if new.title.trim().is_empty() {
        return Err(ApiError::new(Code::InvalidParameter, "`title` may not be empty"));
    }
    if let Some(license) = &new.license {
        valid_license(license)?;
    }
    valid_frequency(new.frequency.as_deref())?;
    let catalog = state.store.catalog();
    known_organization(state, &new.organization)?;
    match catalog.dataset(&new.id) {
        Ok(_) => return Err(ApiError::new(Code::DatasetExists, format!("a dataset `{}` already exists", new.id))),
        Err(opendata_datasets::Error::DatasetNotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let meta = DatasetMeta {
        id: new.id.clone(),
        organization: new.organization,
        title: new.title,
        title_en: new.title_en,
        description: new.description,
        description_en: new.description_en,
        tags: new.tags,
        license: new.license.unwrap_or_else(|| "CC-BY-4.0".into()),
        source: new.source,
        frequency: new.frequency.filter(|f| !f.is_empty()),
        temporal: new.temporal.filter(|t| !t.trim().is_empty()),
        spatial: new.spatial.filter(|s| !s.trim().is_empty()),
        private: new.private,
    };
    audited(state, user, Change::Dataset(&meta), "dataset.create", &meta.id, meta.title.clone())?;
    reindex(state, &meta.id)?;
    Ok(meta.id)
}

/// An organization named in a body must exist: a 400, since the URL named nothing missing.
fn known_organization(state: &AppState, id: &str) -> ApiResult<()> {
    match state.store.catalog().organization(id) {
        Ok(_) => Ok(()),
        Err(opendata_datasets::Error::OrganizationNotFound(_)) => {
            Err(ApiError::new(Code::InvalidParameter, format!("no organization `{id}`")))
        }
        Err(e) => Err(e.into()),
    }
}

fn valid_frequency(frequency: Option<&str>) -> ApiResult<()> {
    match frequency {
        Some(f) if !f.is_empty() && !opendata_datasets::FREQUENCIES.contains(&f) => Err(ApiError::new(
            Code::InvalidParameter,
            format!("`frequency` is one of {}, not `{f}`", opendata_datasets::FREQUENCIES.join(", ")),
        )),
        _ => Ok(()),
    }
}

fn valid_license(id: &str) -> ApiResult<()> {
    opendata_datasets::license::validate(id)
        .map_err(|e| ApiError::new(Code::InvalidParameter, format!("`license`: {e}")))
}

/// A JSON body, or a 400 that says what is wrong with it.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(Code::InvalidParameter, format!("the body is not valid: {e}")))
}

/// Edit a dataset's metadata.
///
/// Only the fields sent change. Moving a dataset to another organization needs the right
/// to publish for both.
#[utoipa::path(
    patch, path = "/api/v1/datasets/{id}", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id", example = "road-accidents")),
    request_body = DatasetPatch,
    responses(
        (status = 200, description = "The dataset as it now is", body = DatasetDetail),
        (status = 400, description = "Invalid metadata", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn update_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<DatasetDetail>> {
    let patch: DatasetPatch = json_body(&body)?;
    let detail = String::from_utf8_lossy(&body).chars().take(500).collect();
    update(&state, &caller.0, &id, patch, detail)?;
    let catalog = state.store.catalog();
    let dataset = catalog.dataset(&id)?;
    Ok(Json(DatasetDetail::new(&dataset, &base_url(&state, &headers))))
}

/// Changes a dataset's metadata for `user`, who may publish for its organization (and for
/// the one it moves to): checked, audited, and searchable at once.
pub(crate) fn update(state: &AppState, user: &User, id: &str, patch: DatasetPatch, detail: String) -> ApiResult<()> {
    let catalog = state.store.catalog();
    let mut meta = catalog.dataset(id)?.meta.clone();
    may_publish(user, &meta.organization)?;
    if let Some(org) = patch.organization {
        may_publish(user, &org)?;
        known_organization(state, &org)?;
        meta.organization = org;
    }
    if let Some(title) = patch.title {
        if title.trim().is_empty() {
            return Err(ApiError::new(Code::InvalidParameter, "`title` may not be empty"));
        }
        meta.title = title;
    }
    meta.title_en = patch.title_en.or(meta.title_en);
    meta.description = patch.description.unwrap_or(meta.description);
    meta.description_en = patch.description_en.or(meta.description_en);
    meta.tags = patch.tags.unwrap_or(meta.tags);
    if let Some(license) = &patch.license {
        valid_license(license)?;
    }
    meta.license = patch.license.unwrap_or(meta.license);
    meta.source = patch.source.or(meta.source);
    valid_frequency(patch.frequency.as_deref())?;
    // An empty text clears a field: a coverage once set can be taken back.
    let clear = |v: Option<String>, old: Option<String>| match v {
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v),
        None => old,
    };
    meta.frequency = clear(patch.frequency, meta.frequency);
    meta.temporal = clear(patch.temporal, meta.temporal);
    meta.spatial = clear(patch.spatial, meta.spatial);
    let action = match patch.private {
        Some(true) if !meta.private => "dataset.make_private",
        Some(false) if meta.private => "dataset.make_public",
        _ => "dataset.update",
    };
    meta.private = patch.private.unwrap_or(meta.private);
    audited(state, user, Change::Dataset(&meta), action, id, detail)?;
    reindex(state, id)
}

/// Upload options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file's name, kept with the version (`population.csv`).
    #[param(example = "population.csv")]
    pub file_name: Option<String>,
    /// The table's title, for a new table.
    pub title: Option<String>,
    /// Keep the new version as a draft: readers do not see it until it is published
    /// (`POST …/versions/{n}/publish`); its organization reads its report meanwhile.
    pub draft: Option<bool>,
}

/// Upload a new version of a table.
///
/// The request body is the file, in any format `opendata ingest` reads, streamed to disk
/// up to `limits.max_upload_bytes`. The answer is `202` with a job; `GET /api/v1/jobs/{id}`
/// follows it. The previous version stays served until the new one is published, and
/// stays if the ingest fails.
#[utoipa::path(
    post, path = "/api/v1/datasets/{id}/tables/{table}/versions", tag = "publish", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Dataset id", example = "road-accidents"),
        ("table" = String, Path, description = "Table name (created if new)", example = "main"),
        UploadParams,
    ),
    request_body(content = Vec<u8>, description = "The file", content_type = "application/octet-stream"),
    responses(
        (status = 202, description = "Queued as a job", body = JobView),
        (status = 400, description = "Bad table name or empty body", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body paused longer than limits.upload_idle_secs or took longer than limits.upload_timeout_secs", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than limits.max_upload_bytes", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn upload_version(
    State(state): State<AppState>,
    Path((id, table)): Path<(String, String)>,
    ApiQuery(p): ApiQuery<UploadParams>,
    caller: Caller,
    body: Body,
) -> ApiResult<Response> {
    let catalog = state.store.catalog();
    let dataset = catalog.dataset(&id)?;
    caller.check(&dataset.meta.organization)?;
    opendata_datasets::ident::validate_id(&table)
        .map_err(|e| ApiError::new(Code::InvalidParameter, format!("table name: {e}")))?;
    let staged = state.store.stage("upload");
    let size = uploads::receive(&state, body.into_data_stream(), staged.path()).await?;
    // The body may have taken minutes: the token and the membership are checked again.
    crate::auth::still_allowed(catalog, &caller.1, &id).map_err(|why| ApiError::new(Code::Forbidden, why))?;
    let upload = uploads::Upload {
        dataset: id,
        table,
        file_name: p.file_name.unwrap_or_else(|| "upload".into()),
        table_title: p.title,
        draft: p.draft.unwrap_or(false),
    };
    let job = uploads::queue(&state, &caller.0, Some(&caller.1), staged, size, upload)?;
    let location = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.id)).map_err(ApiError::internal)?;
    let mut res = (StatusCode::ACCEPTED, Json(view(&state, job)?)).into_response();
    res.headers_mut().insert(header::LOCATION, location);
    Ok(res)
}

pub(crate) fn view(state: &AppState, job: Job) -> ApiResult<JobView> {
    let draft = job.input.as_ref().is_some_and(|i| i.draft);
    let report = match (job.status, job.version) {
        (JobStatus::Succeeded, Some(v)) => {
            let catalog = state.store.catalog();
            let published = catalog.report(&job.dataset, &job.table, v).ok();
            // A draft's report is the draft's, while it waits.
            let waiting = || catalog.draft(&job.dataset, &job.table).ok().flatten().filter(|d| d.number == v);
            published.or_else(|| waiting().map(|d| d.new.report)).and_then(|r| serde_json::to_value(r).ok())
        }
        _ => None,
    };
    let status = serde_json::to_value(job.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    Ok(JobView {
        id: job.id,
        dataset: job.dataset,
        table: job.table,
        status,
        created_at: job.created_at,
        finished_at: job.finished_at,
        version: job.version,
        draft,
        error: job.error,
        report,
    })
}

/// Follow an ingest job.
///
/// Its status, the version it published and, once done, the quality report. Visible to
/// those who may publish for the dataset's organization.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id", example = "3f2a9c1e0b7d4a55")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> ApiResult<Json<JobView>> {
    let catalog = state.store.catalog();
    let job = catalog.job(&id)?;
    if job.user != caller.0.id {
        // Another member of the organization may follow it too.
        let org = catalog.dataset(&job.dataset).map(|d| d.meta.organization.clone()).unwrap_or_default();
        caller.check(&org)?;
    }
    Ok(Json(view(&state, job)?))
}

/// Audit log parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries to return, newest first: default 100, at most 1000.
    #[param(example = 100, minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// Read the audit log.
///
/// Who changed what, newest first. Site administrators only.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "publish", security(("bearer" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<Object>),
        (status = 400, description = "A parameter is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
    )
)]
pub async fn audit_log(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<AuditParams>,
    caller: Caller,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    if !caller.0.site_admin {
        return Err(ApiError::new(Code::Forbidden, "the audit log is for site administrators"));
    }
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.store.catalog().audit_log(limit)?))
}

/// Corrections to a table's column dictionary, by column name.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct ColumnEdits(pub std::collections::BTreeMap<String, opendata_datasets::ColumnOverride>);

/// Edit a table's column dictionary.
///
/// Labels and descriptions change at once, on the latest version, and stay for later
/// versions. A `type` takes effect from the next uploaded version, whose values are read
/// with it. Unknown columns are refused by name.
#[utoipa::path(
    patch, path = "/api/v1/datasets/{id}/tables/{table}/columns", tag = "publish", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Dataset id", example = "population-by-aimag"),
        ("table" = String, Path, description = "Table name", example = "population"),
    ),
    request_body(content = Object, description = "Column name → `label`, `description`, `type` and/or `role` (`longitude`, `latitude`, `geometry`, `none`: how the map places rows)",
                 content_type = "application/json",
                 example = json!({"khun_amyn_too": {"label": "Хүн амын тоо", "description": "Жилийн эцсийн байнгын хүн ам"}})),
    responses(
        (status = 200, description = "The dataset as it now is", body = DatasetDetail),
        (status = 400, description = "Unknown column or invalid body", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset or table", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn edit_columns(
    State(state): State<AppState>,
    Path((id, table)): Path<(String, String)>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<DatasetDetail>> {
    let ColumnEdits(edits) = json_body(&body)?;
    let detail = String::from_utf8_lossy(&body).chars().take(500).collect();
    edit_columns_of(&state, &caller.0, &id, &table, &edits, detail)?;
    let catalog = state.store.catalog();
    let dataset = catalog.dataset(&id)?;
    Ok(Json(DatasetDetail::new(&dataset, &base_url(&state, &headers))))
}

/// Edits a table's column dictionary for `user`, who may publish for its dataset's
/// organization (see [`edit_columns`]).
pub(crate) fn edit_columns_of(
    state: &AppState,
    user: &User,
    id: &str,
    table: &str,
    edits: &std::collections::BTreeMap<String, opendata_datasets::ColumnOverride>,
    detail: String,
) -> ApiResult<()> {
    let catalog = state.store.catalog();
    let dataset = catalog.dataset(id)?;
    may_publish(user, &dataset.meta.organization)?;
    let t = dataset.table(table)?;
    let latest = t.latest();
    let mut columns = latest.columns.clone();
    let mut settings = catalog.table_settings(id, table)?;
    // Nothing is stored until every edit names a column: both are local copies until then.
    for (name, edit) in edits {
        let column = match columns.iter().position(|c| &c.name == name) {
            Some(i) => &mut columns[i],
            None => return Err(crate::engine::params::unknown_column(name, &latest.columns)),
        };
        let stored = settings.columns.entry(name.clone()).or_default();
        if let Some(label) = &edit.label {
            stored.label = Some(label.clone());
            column.label.clone_from(label);
        }
        if let Some(description) = &edit.description {
            stored.description = Some(description.clone());
            column.description.clone_from(description);
        }
        if edit.kind.is_some() {
            stored.kind = edit.kind;
        }
        // A map role is how the data is read, not what it holds: it applies at once.
        if let Some(role) = edit.role {
            stored.role = Some(role);
            column.role = Some(role);
        }
    }
    let change =
        Change::Columns { dataset: id, table, version: latest.version, columns: &columns, settings: &settings };
    audited(state, user, change, "table.columns", &format!("{id}/{table}"), detail)?;
    reindex(state, id)
}
