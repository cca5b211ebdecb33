//! Receiving an upload and queueing its ingest, shared by the API (`POST …/versions`, a
//! token) and the publisher's pages (a multipart form, a session).

use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt};
use opendata_datasets::{AuditEntry, Change, Job, JobInput, StagedFile, User};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;

/// Streams an upload's body to `path`, within `limits.max_upload_bytes` and the upload
/// deadlines: a client that stops sending, or sends too slowly to finish in time, loses the
/// upload instead of holding a connection and a staged file.
pub(crate) async fn receive<E: std::fmt::Display>(
    state: &AppState,
    mut stream: impl Stream<Item = Result<Bytes, E>> + Unpin,
    path: &std::path::Path,
) -> ApiResult<u64> {
    let limits = &state.config.limits;
    let (limit, idle) = (limits.max_upload_bytes, std::time::Duration::from_secs(limits.upload_idle_secs));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(limits.upload_timeout_secs);
    let mut file = tokio::fs::File::create(path).await.map_err(ApiError::internal)?;
    let mut size = 0u64;
    let too_slow = || {
        ApiError::new(
            Code::UploadTimeout,
            format!(
                "the upload stalled for {}s or ran past {}s (limits.upload_idle_secs, limits.upload_timeout_secs)",
                limits.upload_idle_secs, limits.upload_timeout_secs
            ),
        )
    };
    loop {
        let next = tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + idle), stream.next());
        let Some(chunk) = next.await.map_err(|_| too_slow())? else { break };
        let chunk = chunk.map_err(|e| ApiError::new(Code::InvalidParameter, format!("the upload broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::new(
                Code::PayloadTooLarge,
                format!("uploads are at most {limit} bytes (limits.max_upload_bytes)"),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(size)
}

/// `Multipart` that answers a malformed form (no boundary, not multipart) in the API's own
/// error shape.
#[derive(Debug)]
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(ApiMultipart)
            .map_err(|e| ApiError::new(Code::InvalidParameter, format!("the body must be a multipart form: {e}")))
    }
}

/// A form field that is not the file, read up to `max` bytes: an upload route takes bodies
/// as large as an upload, so its other fields are bounded here instead. Longer or
/// non-UTF-8 text reads as empty, which the form then refuses as missing.
pub(crate) async fn bounded_text(mut field: axum::extract::multipart::Field<'_>, max: usize) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = field.chunk().await {
        if bytes.len() + chunk.len() > max {
            return String::new();
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// A new job's id.
pub(crate) fn job_id() -> ApiResult<String> {
    crate::jobs::new_id().map_err(|e| ApiError::internal(format!("no randomness: {e}")))
}

/// What an upload is, besides its bytes.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(crate) dataset: String,
    pub(crate) table: String,
    /// The name the publisher gave the file (its extension tells the format).
    pub(crate) file_name: String,
    pub(crate) table_title: Option<String>,
    pub(crate) draft: bool,
}

/// Keeps a received upload where every node can read it, then queues its ingest with its
/// audit entry: any node's runner may take the job. `token` is the API token that sent it,
/// checked again when the job runs; a signed-in publisher's upload has none, and their
/// membership is checked instead.
pub(crate) fn queue(
    state: &AppState,
    user: &User,
    token: Option<&str>,
    staged: StagedFile,
    size: u64,
    upload: Upload,
) -> ApiResult<Job> {
    if size == 0 {
        return Err(ApiError::new(Code::InvalidParameter, "the file is empty: send its content"));
    }
    let id = job_id()?;
    let extension = std::path::Path::new(&upload.file_name).extension().and_then(|e| e.to_str()).unwrap_or("");
    let kept = state.store.keep_upload(staged, &id, extension)?;
    let input = JobInput {
        upload: kept.clone(),
        file_name: upload.file_name,
        table_title: upload.table_title,
        draft: upload.draft,
        original: false,
        fixes: None,
    };
    let detail = format!("{size} bytes, job {id}");
    let queued = enqueue(state, user, token, id, (upload.dataset, upload.table), input, ("version.upload", detail));
    if queued.is_err() {
        let _ = state.store.remove_upload(&kept);
    }
    queued
}

/// Queues `draft` to be read again from its kept original with `fixes`, as a new draft of
/// its table: nothing is uploaded again.
pub(crate) fn reread(
    state: &AppState,
    user: &User,
    token: Option<&str>,
    draft: &opendata_datasets::Draft,
    fixes: opendata_datasets::ReadFixes,
) -> ApiResult<Job> {
    let Some(original) = draft.new.source.original.clone() else {
        return Err(ApiError::new(Code::OriginalNotKept, "this draft's file was not kept; upload it again"));
    };
    // A draft read from one sheet of a workbook is read again from that sheet, unless the
    // publisher names another: the other sheets' tables are not theirs to change.
    let mut fixes = fixes;
    if fixes.sheet.is_none() {
        fixes.sheet.clone_from(&draft.new.report.decisions.sheet);
    }
    let id = job_id()?;
    let input = JobInput {
        upload: original,
        file_name: draft.new.source.file_name.clone(),
        table_title: Some(draft.new.table_title.clone()),
        draft: true,
        original: true,
        fixes: Some(fixes),
    };
    let detail = format!("draft {}, job {id}", draft.number);
    let table = (draft.new.dataset.id.clone(), draft.new.table.clone());
    enqueue(state, user, token, id, table, input, ("version.reread", detail))
}

/// Queues job `id` on `dataset/table` with its input and its audit entry (action, detail),
/// in one transaction, and wakes this node's runner.
fn enqueue(
    state: &AppState,
    user: &User,
    token: Option<&str>,
    id: String,
    (dataset, table): (String, String),
    input: JobInput,
    (action, detail): (&str, String),
) -> ApiResult<Job> {
    let target = format!("{dataset}/{table}");
    let job =
        Job { token: token.map(str::to_owned), input: Some(input), ..Job::queued(id, dataset, table, user.id.clone()) };
    let entry = AuditEntry { at: Utc::now(), user: user.id.clone(), action: action.into(), target, detail };
    state.store.catalog().audited(&Change::Job(&job), &entry)?;
    state.jobs_queued.notify_one();
    Ok(job)
}
