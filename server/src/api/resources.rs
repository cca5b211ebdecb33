//! Files and links that are not tables: a methodology PDF, a questionnaire, a ZIP of
//! shapefiles, a chart image, or a link to a report kept elsewhere. Kept like the originals
//! of tables (content-addressed, in storage), listed with the dataset everywhere it is
//! described (API, CKAN `resources`, DCAT distributions, the data package), and served only
//! as downloads: an attachment, a type chosen from the format (never one a browser runs),
//! and `nosniff`, so an upload cannot become a page of this site.

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use opendata_datasets::{Change, Resource, StagedFile, User};
use serde::Serialize;
use utoipa::ToSchema;

use super::rows::{serve_file, set_cache_headers};
use super::uploads;
use super::write::audited;
use crate::auth::{Caller, may_publish};
use crate::error::{ApiError, ApiResult, Code, Forbidden, Gone, Problem, RateLimited, Unauthorized};
use crate::reader::Reader;
use crate::state::AppState;

/// Documents and links one dataset may hold: a listing stays a listing.
pub const MAX_RESOURCES: usize = 100;

/// Formats with their served type and the bytes a file of the format starts with (empty
/// when it has no signature). A name whose bytes disagree is refused: a `.pdf` that is not
/// one would fail every reader who downloads it.
const KINDS: &[(&str, &str, &str, &[u8])] = &[
    ("pdf", "PDF", "application/pdf", b"%PDF-"),
    ("docx", "DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("xlsx", "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ("pptx", "PPTX", "application/vnd.openxmlformats-officedocument.presentationml.presentation", b"PK\x03\x04"),
    ("odt", "ODT", "application/vnd.oasis.opendocument.text", b"PK\x03\x04"),
    ("ods", "ODS", "application/vnd.oasis.opendocument.spreadsheet", b"PK\x03\x04"),
    ("zip", "ZIP", "application/zip", b"PK"),
    ("doc", "DOC", "application/msword", b"\xD0\xCF\x11\xE0"),
    ("xls", "XLS", "application/vnd.ms-excel", b"\xD0\xCF\x11\xE0"),
    ("7z", "7Z", "application/x-7z-compressed", b"7z\xBC\xAF\x27\x1C"),
    ("png", "PNG", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("jpg", "JPEG", "image/jpeg", b"\xFF\xD8\xFF"),
    ("jpeg", "JPEG", "image/jpeg", b"\xFF\xD8\xFF"),
    ("gif", "GIF", "image/gif", b"GIF8"),
    ("webp", "WEBP", "image/webp", b"RIFF"),
    ("csv", "CSV", "text/csv", b""),
    ("txt", "TXT", "text/plain", b""),
    ("json", "JSON", "application/json", b""),
    ("geojson", "GEOJSON", "application/geo+json", b""),
];

/// The format and served type of a file named `name` whose first bytes are `head`.
/// Formats not listed (HTML, SVG and anything a browser might run among them) are served
/// as `application/octet-stream`.
pub(crate) fn kind_of(name: &str, head: &[u8]) -> ApiResult<(String, &'static str)> {
    let extension = extension(name);
    match known(name) {
        Some((_, format, media_type, signature)) if head.starts_with(signature) => {
            Ok(((*format).to_owned(), media_type))
        }
        Some((_, format, ..)) => Err(ApiError::new(
            Code::UnreadableFile,
            format!("`{name}` is named as {format} but its content is not {format}: send the file itself"),
        )),
        None if extension.is_empty() => Ok(("FILE".into(), "application/octet-stream")),
        None => Ok((extension.to_ascii_uppercase(), "application/octet-stream")),
    }
}

/// The listed kind of a name's extension.
fn known(name: &str) -> Option<&'static (&'static str, &'static str, &'static str, &'static [u8])> {
    let extension = extension(name);
    KINDS.iter().find(|(ext, ..)| *ext == extension)
}

/// A file name's extension, lower-case, only letters and digits, at most 10 of them.
fn extension(name: &str) -> String {
    let ext = std::path::Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or_default();
    ext.chars().filter(char::is_ascii_alphanumeric).take(10).collect::<String>().to_ascii_lowercase()
}

/// A resource as the API lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "3f2a9c1e", "title": "Аргачлал", "description": "How the survey was run",
    "format": "PDF", "media_type": "application/pdf", "size": 482113, "file_name": "methodology.pdf",
    "url": "https://data.example.mn/api/v1/datasets/road-accidents/resources/3f2a9c1e",
    "created_at": "2026-11-25T10:00:00Z"}))]
pub struct ResourceView {
    pub id: String,
    pub title: String,
    pub description: String,
    /// `PDF`, `DOCX`, `ZIP`, `PNG`, …, or `LINK`.
    pub format: String,
    pub media_type: String,
    /// Bytes; absent for a link.
    pub size: Option<u64>,
    pub file_name: Option<String>,
    /// Where to download it: this portal for a file, the link's own address for a link.
    pub url: String,
    pub created_at: chrono::DateTime<Utc>,
}

impl ResourceView {
    pub fn new(r: &Resource, base: &str) -> Self {
        Self {
            id: r.id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            format: r.format.clone(),
            media_type: r.media_type.clone(),
            size: r.size,
            file_name: r.file_name.clone(),
            url: url_of(base, r),
            created_at: r.created_at,
        }
    }
}

/// Whether `url` may be a link resource: an http(s) address without spaces or control
/// characters, at most 2,000 bytes.
pub(crate) fn is_link(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Where a resource is downloaded from.
pub(crate) fn url_of(base: &str, r: &Resource) -> String {
    match (&r.file, &r.url) {
        (None, Some(link)) => link.clone(),
        _ => format!("{base}/api/v1/datasets/{}/resources/{}", r.dataset, r.id),
    }
}

/// What a publisher sends to add a resource: a received file, or a link.
#[derive(Debug, Default)]
pub(crate) struct ResourceForm {
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) url: Option<String>,
    pub(crate) file: Option<(StagedFile, String, u64)>,
    /// The form's CSRF token, for the publisher's pages.
    pub(crate) csrf: String,
}

impl ResourceForm {
    /// Reads a multipart form (`file`, `title`, `description`, or `url` for a link). The
    /// file is received only if `may_receive(csrf)` holds by the time it comes: a form
    /// another site made the browser send is not written to disk.
    pub(crate) async fn read(
        state: &AppState,
        mut form: Multipart,
        may_receive: impl Fn(&str) -> bool,
    ) -> ApiResult<Self> {
        let mut out = ResourceForm::default();
        let bad = |why: String| ApiError::new(Code::InvalidParameter, why);
        while let Some(field) = form.next_field().await.map_err(|e| bad(format!("the form broke off: {e}")))? {
            match field.name().unwrap_or_default() {
                "csrf" => out.csrf = uploads::bounded_text(field, 1024).await,
                "title" => out.title = uploads::bounded_text(field, 1024).await.trim().to_owned(),
                "description" => out.description = uploads::bounded_text(field, 8192).await.trim().to_owned(),
                "url" => out.url = Some(uploads::bounded_text(field, 2048).await.trim().to_owned()),
                "file" if may_receive(&out.csrf) => {
                    let name = field.file_name().unwrap_or("document").to_owned();
                    let staged = state.store.stage("document");
                    let size = uploads::receive(state, field, staged.path()).await?;
                    // A browser sends an empty file part when no file was chosen.
                    if size > 0 || !name.is_empty() {
                        out.file = Some((staged, name, size));
                    }
                }
                _ => {}
            }
        }
        out.url = out.url.filter(|u| !u.is_empty());
        Ok(out)
    }
}

/// Adds a resource to dataset `id` for `user`, who may publish for its organization:
/// checked, stored, audited, and searchable at once.
pub(crate) async fn add(state: &AppState, user: &User, id: &str, form: ResourceForm) -> ApiResult<Resource> {
    let dataset = state.store.catalog().dataset(id)?;
    may_publish(user, &dataset.meta.organization)?;
    if dataset.resources.len() >= MAX_RESOURCES {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("a dataset holds at most {MAX_RESOURCES} documents and links; remove one first"),
        ));
    }
    let bad = |why: &str| ApiError::new(Code::InvalidParameter, why.to_owned());
    let title = form.title.chars().take(300).collect::<String>();
    let mut resource = Resource {
        id: super::uploads::job_id()?[..8].to_owned(),
        dataset: id.to_owned(),
        title,
        description: form.description,
        format: String::new(),
        media_type: String::new(),
        size: None,
        file: None,
        file_name: None,
        url: None,
        created_at: Utc::now(),
    };
    match (form.file, form.url) {
        (Some(_), Some(_)) => return Err(bad("send a `file` or a `url`, not both")),
        (None, None) => return Err(bad("send a `file`, or a `url` to link to")),
        (None, Some(url)) => {
            if !is_link(&url) {
                return Err(bad("`url` must be an http or https address without spaces, at most 2000 characters"));
            }
            // A link to `report.pdf` is a PDF to catalogs; anything else is a page.
            let path = url.split(['?', '#']).next().unwrap_or_default();
            let (format, media_type) = known(path).map_or(("LINK", "text/html"), |(_, f, m, _)| (*f, *m));
            (resource.format, resource.media_type) = (format.to_owned(), media_type.to_owned());
            if resource.title.is_empty() {
                resource.title = url.clone();
            }
            resource.url = Some(url);
        }
        (Some((staged, name, size)), None) => {
            if size == 0 {
                return Err(ApiError::new(Code::UnreadableFile, format!("`{name}` is empty: send its content")));
            }
            let store = state.store.clone();
            let name2 = name.clone();
            let (format, media_type, file) = tokio::task::spawn_blocking(move || -> ApiResult<_> {
                let mut head = [0u8; 16];
                let read = {
                    use std::io::Read;
                    let mut f = std::fs::File::open(staged.path()).map_err(ApiError::internal)?;
                    f.read(&mut head).map_err(ApiError::internal)?
                };
                let (format, media_type) = kind_of(&name2, &head[..read])?;
                let mut hasher = blake3::Hasher::new();
                let file = std::fs::File::open(staged.path()).map_err(ApiError::internal)?;
                hasher.update_reader(file).map_err(ApiError::internal)?;
                let hash = hasher.finalize().to_hex().to_string();
                let file = store.keep_original(staged.path(), &hash, &extension(&name2))?;
                Ok((format, media_type, file))
            })
            .await
            .map_err(ApiError::internal)??;
            resource.format = format;
            resource.media_type = media_type.to_owned();
            resource.size = Some(size);
            resource.file = Some(file);
            if resource.title.is_empty() {
                resource.title = name.clone();
            }
            resource.file_name = Some(name);
        }
    }
    let (target, detail) = (format!("{id}/{}", resource.id), format!("{} {}", resource.format, resource.title));
    audited(state, user, Change::AddResource(&resource), "resource.add", &target, detail)?;
    crate::publish::index_dataset(&state.store, &state.index, id).map_err(ApiError::internal)?;
    Ok(resource)
}

/// Takes resource `rid` off dataset `id` for `user`; its file goes with the next sweep.
pub(crate) fn remove(state: &AppState, user: &User, id: &str, rid: &str) -> ApiResult<()> {
    may_publish(user, &state.store.catalog().dataset(id)?.meta.organization)?;
    let change = Change::RemoveResource { dataset: id, id: rid };
    audited(state, user, change, "resource.remove", &format!("{id}/{rid}"), String::new())?;
    crate::publish::index_dataset(&state.store, &state.index, id).map_err(ApiError::internal)
}

/// Add a document or a link.
///
/// A multipart form: `file` (a PDF, DOCX, ZIP, image, …, at most `limits.max_upload_bytes`)
/// or `url` (a link), with `title` and `description`. A file whose content is not what its
/// name says is refused (`unreadable_file`).
#[utoipa::path(
    post, path = "/api/v1/datasets/{id}/resources", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id", example = "road-accidents")),
    request_body(content_type = "multipart/form-data", content = String,
        description = "`file` or `url`, with `title` and `description`"),
    responses(
        (status = 201, description = "Added", body = ResourceView),
        (status = 400, description = "No file or link, an empty file, a file that is not its format, or too many resources", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The upload stalled", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 413, description = "Larger than `limits.max_upload_bytes`", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    uploads::ApiMultipart(form): uploads::ApiMultipart,
) -> ApiResult<Response> {
    // Refused before the body is read: a stranger's upload never reaches the disk.
    let organization = state.store.catalog().dataset(&id)?.meta.organization.clone();
    caller.check(&organization)?;
    let form = ResourceForm::read(&state, form, |_| true).await?;
    let resource = add(&state, &caller.0, &id, form).await?;
    let base = super::base_url(&state, &headers);
    Ok((StatusCode::CREATED, Json(ResourceView::new(&resource, &base))).into_response())
}

/// Remove a document or a link.
#[utoipa::path(
    delete, path = "/api/v1/datasets/{id}/resources/{resource}", tag = "publish", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Dataset id", example = "road-accidents"),
        ("resource" = String, Path, description = "Resource id", example = "3f2a9c1e"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset or resource", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    remove(&state, &caller.0, &id, &rid)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download a document, or follow a link.
///
/// A stored file comes as an attachment typed by its format (Range and ETag supported); a
/// link answers `303` to where it points.
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}/resources/{resource}", tag = "data",
    params(
        ("id" = String, Path, description = "Dataset id", example = "road-accidents"),
        ("resource" = String, Path, description = "Resource id", example = "3f2a9c1e"),
    ),
    responses(
        (status = 200, description = "The file, as an attachment", content(
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/zip"),
            (Vec<u8> = "image/png"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 206, description = "The requested byte range", content((Vec<u8> = "application/octet-stream"))),
        (status = 303, description = "A link: `Location` is where it points"),
        (status = 304, description = "Not modified since the client's copy"),
        (status = 404, description = "No such dataset or resource", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    reader: Reader,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let dataset = reader.dataset(state.store.catalog(), &id)?;
    let resource = dataset
        .resources
        .iter()
        .find(|r| r.id == rid)
        .ok_or_else(|| ApiError::new(Code::ResourceNotFound, format!("dataset `{id}` has no resource `{rid}`")))?;
    let Some(relative) = resource.file.clone() else {
        return Ok(Redirect::to(resource.url.as_deref().unwrap_or("/")).into_response());
    };
    // Content-addressed: the same name holds the same bytes for good.
    let etag = format!("\"{}\"", relative.rsplit('/').next().unwrap_or_default());
    let store = state.store.clone();
    let path =
        tokio::task::spawn_blocking(move || store.original_path(&relative)).await.map_err(ApiError::internal)??;
    // Only ever a listed type, whatever the record says.
    let media_type =
        KINDS.iter().map(|k| k.2).find(|t| *t == resource.media_type).unwrap_or("application/octet-stream");
    let mut res = serve_file(&path, &etag, &headers, media_type).await?;
    set_cache_headers(res.headers_mut(), &etag, true);
    let name = resource.file_name.as_deref().unwrap_or("document");
    let h = res.headers_mut();
    h.insert(header::CONTENT_DISPOSITION, super::originals::disposition(name));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Opened directly anyway, it runs nothing and reaches nothing.
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_names_and_must_match_their_bytes() {
        assert_eq!(kind_of("Аргачлал.PDF", b"%PDF-1.7").unwrap(), ("PDF".into(), "application/pdf"));
        assert_eq!(kind_of("a.docx", b"PK\x03\x04").unwrap().0, "DOCX");
        assert_eq!(kind_of("map.svg", b"<svg onload=alert(1)>").unwrap(), ("SVG".into(), "application/octet-stream"));
        assert_eq!(kind_of("page.html", b"<script>").unwrap().1, "application/octet-stream");
        assert_eq!(kind_of("noext", b"x").unwrap(), ("FILE".into(), "application/octet-stream"));
        let err = kind_of("report.pdf", b"<html>").unwrap_err();
        assert_eq!(err.code, Code::UnreadableFile);
        assert_eq!(kind_of("x.png", b"GIF89a").unwrap_err().code, Code::UnreadableFile);
    }
}
