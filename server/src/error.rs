//! The one error shape of the API: RFC 9457 `application/problem+json`, with a stable
//! machine-readable `code` from one table. Internal details are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

macro_rules! codes {
    ($($variant:ident => ($code:literal, $status:ident, $title:literal),)*) => {
        /// Every error code the API can return. Codes are part of the public contract:
        /// add new ones, never rename.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable string clients match on.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status,)* }
            }

            /// A short, human-readable summary that does not change between occurrences.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    DatasetNotFound => ("dataset_not_found", NOT_FOUND, "Dataset not found"),
    TableNotFound => ("table_not_found", NOT_FOUND, "Table not found"),
    VersionNotFound => ("version_not_found", NOT_FOUND, "Table version not found"),
    OriginalNotKept => ("original_not_kept", NOT_FOUND, "Original file not kept"),
    DraftNotFound => ("draft_not_found", NOT_FOUND, "Draft not found"),
    ResourceNotFound => ("resource_not_found", NOT_FOUND, "Resource not found"),
    WebhookNotFound => ("webhook_not_found", NOT_FOUND, "Webhook not found"),
    NothingToRestore => ("nothing_to_restore", CONFLICT, "Dataset not withdrawn"),
    UnreadableFile => ("unreadable_file", BAD_REQUEST, "File does not match its format"),
    DatasetWithdrawn => ("dataset_withdrawn", GONE, "Dataset withdrawn"),
    BreakingChange => ("breaking_change", CONFLICT, "Confirm the breaking change"),
    OrganizationNotFound => ("organization_not_found", NOT_FOUND, "Organization not found"),
    RouteNotFound => ("route_not_found", NOT_FOUND, "No such route"),
    JobNotFound => ("job_not_found", NOT_FOUND, "Job not found"),
    Unauthorized => ("unauthorized", UNAUTHORIZED, "Authentication required"),
    Forbidden => ("forbidden", FORBIDDEN, "Not allowed"),
    OriginNotAllowed => ("origin_not_allowed", FORBIDDEN, "Origin not allowed"),
    DatasetExists => ("dataset_exists", CONFLICT, "Dataset already exists"),
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE, "Upload too large"),
    UploadTimeout => ("upload_timeout", REQUEST_TIMEOUT, "Upload too slow"),
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed"),
    UnknownColumn => ("unknown_column", BAD_REQUEST, "Unknown column"),
    UnknownOperator => ("unknown_operator", BAD_REQUEST, "Unknown filter operator"),
    InvalidValue => ("invalid_value", BAD_REQUEST, "Invalid filter value"),
    InvalidParameter => ("invalid_parameter", BAD_REQUEST, "Invalid parameter"),
    InvalidGlossary => ("invalid_glossary", BAD_REQUEST, "Invalid glossary"),
    InvalidCursor => ("invalid_cursor", BAD_REQUEST, "Invalid cursor"),
    UnsupportedFormat => ("unsupported_format", BAD_REQUEST, "Unsupported format"),
    InvalidSql => ("invalid_sql", BAD_REQUEST, "Invalid SQL"),
    SqlNotAllowed => ("sql_not_allowed", BAD_REQUEST, "SQL not allowed"),
    UnknownTable => ("unknown_table", BAD_REQUEST, "Unknown table"),
    LimitExceeded => ("limit_exceeded", BAD_REQUEST, "Request exceeds a limit"),
    UnknownHost => ("unknown_host", BAD_REQUEST, "Unknown host"),
    TargetNotAllowed => ("target_not_allowed", BAD_REQUEST, "Address not allowed"),
    ResultTooLarge => ("result_too_large", BAD_REQUEST, "Result too large"),
    TooManyExports => ("too_many_exports", TOO_MANY_REQUESTS, "Too many downloads"),
    RangeNotSatisfiable => ("range_not_satisfiable", RANGE_NOT_SATISFIABLE, "Range not satisfiable"),
    QueryTimeout => ("query_timeout", SERVICE_UNAVAILABLE, "Query took too long"),
    QueryMemory => ("query_memory", SERVICE_UNAVAILABLE, "Query stopped at the memory limit"),
    Overloaded => ("overloaded", SERVICE_UNAVAILABLE, "Server busy"),
    CatalogUnavailable => ("catalog_unavailable", SERVICE_UNAVAILABLE, "Catalog unavailable"),
    RateLimited => ("rate_limited", TOO_MANY_REQUESTS, "Too many requests"),
    Internal => ("internal", INTERNAL_SERVER_ERROR, "Internal server error"),
}

/// The 429 every rate-limited route may answer, described once for the OpenAPI document.
/// `Retry-After` and the `RateLimit-*` headers say when to retry.
#[derive(Debug, ToResponse)]
#[response(
    description = "Too many requests from this address (`Retry-After` and `RateLimit-*` headers say when to retry)",
    content_type = "application/problem+json",
    example = json!({"type": "urn:opendata:problem:rate_limited", "title": "Too many requests", "status": 429,
        "detail": "more than 600 requests a minute from this address; retry in 1s", "code": "rate_limited"})
)]
pub struct RateLimited(pub Problem);

/// The 410 of every route under a withdrawn dataset, described once.
#[derive(Debug, ToResponse)]
#[response(
    description = "The dataset was withdrawn; `detail` gives the reason",
    content_type = "application/problem+json",
    example = json!({"type": "urn:opendata:problem:dataset_withdrawn", "title": "Dataset withdrawn", "status": 410,
        "detail": "dataset `road-accidents` was withdrawn: replaced by road-accidents-2025", "code": "dataset_withdrawn"})
)]
pub struct Gone(pub Problem);

/// The 401 of every write route, described once.
#[derive(Debug, ToResponse)]
#[response(
    description = "No live token (`WWW-Authenticate: Bearer`)",
    content_type = "application/problem+json",
    example = json!({"type": "urn:opendata:problem:unauthorized", "title": "Authentication required", "status": 401,
        "detail": "send an API token as `Authorization: Bearer <token>`", "code": "unauthorized"})
)]
pub struct Unauthorized(pub Problem);

/// The 403 of every write route, described once.
#[derive(Debug, ToResponse)]
#[response(
    description = "The token's user may not act on this organization",
    content_type = "application/problem+json",
    example = json!({"type": "urn:opendata:problem:forbidden", "title": "Not allowed", "status": 403,
        "detail": "`bat` may not publish for the organization `agaar`", "code": "forbidden"})
)]
pub struct Forbidden(pub Problem);

/// An API error: a code, a detail for the client, and optionally a cause for the log.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
    pub(crate) internal: Option<String>,
}

/// The problem document sent to clients.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:opendata:problem:unknown_column",
    "title": "Unknown column",
    "status": 400,
    "detail": "unknown column `popuation`; columns are: aimag, population, year",
    "code": "unknown_column"
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:opendata:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable error code.
    pub code: String,
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), internal: None }
    }

    /// A 500 whose cause is logged but not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            code: Code::Internal,
            detail: "the server failed to answer this request; it has been logged".into(),
            internal: Some(cause.to_string()),
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:opendata:problem:{}", self.code.as_str()),
            title: self.code.title().into(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code.as_str().into(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.internal {
            tracing::error!(code = self.code.as_str(), %cause, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (self.code.status(), body).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match self.code {
            Code::Unauthorized => {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Code::QueryTimeout | Code::QueryMemory => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            // The queue drains in well under a second at the default limits.
            Code::Overloaded | Code::TooManyExports | Code::CatalogUnavailable => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        res
    }
}

impl From<opendata_datasets::Error> for ApiError {
    fn from(e: opendata_datasets::Error) -> Self {
        use opendata_datasets::Error as E;
        match e {
            E::DatasetNotFound(id) => ApiError::new(Code::DatasetNotFound, format!("no dataset `{id}`")),
            E::TableNotFound { dataset, table } => {
                ApiError::new(Code::TableNotFound, format!("dataset `{dataset}` has no table `{table}`"))
            }
            E::VersionNotFound { table, version } => {
                ApiError::new(Code::VersionNotFound, format!("table `{table}` has no version {version}"))
            }
            E::OrganizationNotFound(id) => ApiError::new(Code::OrganizationNotFound, format!("no organization `{id}`")),
            E::JobNotFound(id) => ApiError::new(Code::JobNotFound, format!("no job `{id}`")),
            E::DraftNotFound(why) => ApiError::new(Code::DraftNotFound, why),
            e @ E::DatasetWithdrawn { .. } => ApiError::new(Code::DatasetWithdrawn, e.to_string()),
            e @ E::BreakingChange(_) => ApiError::new(Code::BreakingChange, e.to_string()),
            e @ E::NothingToRestore(_) => ApiError::new(Code::NothingToRestore, e.to_string()),
            e @ E::ResourceNotFound { .. } => ApiError::new(Code::ResourceNotFound, e.to_string()),
            // An id that is not a slug cannot exist.
            E::InvalidId { value, .. } => ApiError::new(Code::DatasetNotFound, format!("no dataset `{value}`")),
            e if e.is_unavailable() => {
                tracing::warn!(%e, "the catalog or the storage did not answer");
                ApiError::new(Code::CatalogUnavailable, "the catalog cannot be reached for a moment; retry shortly")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<search_index::Error> for ApiError {
    fn from(e: search_index::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<polars::error::PolarsError> for ApiError {
    fn from(e: polars::error::PolarsError) -> Self {
        ApiError::internal(e)
    }
}

/// The API's result type.
pub type ApiResult<T> = Result<T, ApiError>;
