//! The HTTP API: routes, handlers and the OpenAPI document they generate.

pub mod answer;
pub mod catalog;
pub mod changes;
pub mod ckan;
mod dcat;
pub mod drafts;
pub mod feeds;
pub mod glossary;
pub mod linked;
pub mod meta;
pub mod model;
pub mod originals;
mod rdf;
pub mod resources;
pub mod rows;
pub mod sql;
pub mod stats;
pub mod themes;
pub mod uploads;
pub mod webhooks;
pub mod withdrawals;
pub mod write;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::routing::get;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;

/// The OpenAPI 3.1 description of the API, generated from the handlers' annotations.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "opendata",
        description = "Open data portal API: search the catalog, read metadata, query rows and download whole tables.\n\n\
Errors are `application/problem+json` (RFC 9457) with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        meta::healthz,
        catalog::search_datasets,
        catalog::suggest,
        answer::answer,
        glossary::get_glossary,
        glossary::put_glossary,
        glossary::reset_glossary,
        catalog::get_dataset,
        catalog::list_organizations,
        catalog::get_organization,
        catalog::get_report,
        stats::dataset_stats,
        originals::original,
        changes::changes,
        rows::rows,
        rows::table_file,
        sql::sql_get,
        sql::sql_post,
        ckan::action_get,
        ckan::action,
        write::create_dataset,
        write::update_dataset,
        withdrawals::withdraw_dataset,
        withdrawals::restore_dataset,
        resources::create,
        resources::download,
        resources::delete,
        write::upload_version,
        drafts::publish,
        drafts::reread,
        write::edit_columns,
        write::get_job,
        write::audit_log,
        webhooks::create,
        webhooks::list,
        webhooks::remove,
        webhooks::deliveries,
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem, ckan::CkanAction), responses(crate::error::RateLimited, crate::error::Gone, crate::error::Unauthorized, crate::error::Forbidden)),
    tags(
        (name = "catalog", description = "Datasets and organizations"),
        (name = "data", description = "Rows, filters and downloads"),
        (name = "meta", description = "Health and API description"),
        (name = "ckan", description = "CKAN's Action API, for CKAN clients"),
        (name = "publish", description = "Publishing: datasets, uploads and jobs (`Authorization: Bearer <token>`)"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the write routes name: tokens from `opendata token create`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token from `opendata token create`"))
                    .build(),
            ),
        );
    }
}

/// The whole application, ready to serve. Tests call it without a socket.
pub fn router(state: AppState) -> Router {
    let limited = Router::new()
        .route("/api/v1/datasets", get(catalog::search_datasets).post(write::create_dataset))
        .route("/api/v1/suggest", get(catalog::suggest))
        .route("/api/v1/answer", get(answer::answer))
        .route(
            "/api/v1/glossary",
            get(glossary::get_glossary).put(glossary::put_glossary).delete(glossary::reset_glossary),
        )
        .route("/api/3/action/{action}", get(ckan::action_get).post(ckan::action))
        .route("/api/action/{action}", get(ckan::action_get).post(ckan::action))
        .route("/feeds/datasets.atom", get(feeds::portal))
        .route("/feeds/organizations/{file}", get(feeds::organization))
        .route("/catalog.jsonld", get(linked::catalog))
        .route("/catalog.ttl", get(linked::catalog))
        .route("/catalog.rdf", get(linked::catalog))
        .route("/datasets/{id}/datapackage.json", get(linked::datapackage))
        .route("/datasets/{id}/schema.json", get(linked::schema_org_json))
        .route(
            "/api/v1/datasets/{id}",
            get(catalog::get_dataset).patch(write::update_dataset).delete(withdrawals::withdraw_dataset),
        )
        .route("/api/v1/datasets/{id}/stats", get(stats::dataset_stats))
        .route("/api/v1/datasets/{id}/restore", axum::routing::post(withdrawals::restore_dataset))
        // Documents stream to disk within `limits.max_upload_bytes`, not axum's 2 MB.
        .route(
            "/api/v1/datasets/{id}/resources",
            axum::routing::post(resources::create).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/v1/datasets/{id}/resources/{resource}", get(resources::download).delete(resources::delete))
        .route("/api/v1/datasets/{id}/tables/{table}/versions", axum::routing::post(write::upload_version))
        .route("/api/v1/datasets/{id}/tables/{table}/columns", axum::routing::patch(write::edit_columns))
        .route("/api/v1/jobs/{id}", get(write::get_job))
        .route("/api/v1/audit", get(write::audit_log))
        .route("/api/v1/organizations", get(catalog::list_organizations))
        .route("/api/v1/organizations/{id}", get(catalog::get_organization))
        .route("/api/v1/organizations/{id}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/api/v1/organizations/{id}/webhooks/{webhook}", axum::routing::delete(webhooks::remove))
        .route("/api/v1/organizations/{id}/webhooks/{webhook}/deliveries", get(webhooks::deliveries))
        .route("/api/v1/datasets/{id}/tables/{table}/rows", get(rows::rows))
        .route("/api/v1/datasets/{id}/tables/{table}/versions/{version}/report", get(catalog::get_report))
        .route("/api/v1/datasets/{id}/tables/{table}/versions/{version}/source", get(originals::original))
        .route("/api/v1/datasets/{id}/tables/{table}/versions/{version}/{file}", get(changes::changes))
        .route("/api/v1/datasets/{id}/tables/{table}/versions/{version}/publish", axum::routing::post(drafts::publish))
        .route("/api/v1/datasets/{id}/tables/{table}/versions/{version}/reread", axum::routing::post(drafts::reread))
        .route("/api/v1/datasets/{id}/tables/{table}/{file}", get(rows::table_file))
        .route("/api/v1/sql", get(sql::sql_get).post(sql::sql_post))
        .merge(crate::web::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::usage::count))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::ratelimit::limit))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), known_host))
        .route_layer(axum::middleware::from_fn(private_to_reader))
        .with_state(state.clone());
    // Health checks are never rate-limited.
    let api = Router::new().route("/healthz", get(meta::healthz)).with_state(state.clone()).merge(limited);
    // Swagger UI's assets are compiled in (the `vendored` feature): the docs page needs no network.
    api.merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", ApiDoc::openapi()))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(axum::middleware::from_fn(no_framing))
        // Outermost, so that preflights never reach a route and every answer, errors
        // included, carries the headers.
        .layer(axum::middleware::from_fn_with_state(state, crate::cors::cors))
}

/// No other site may frame the portal's pages (clickjacking a publisher's forms), except
/// the embeds, which say so themselves.
async fn no_framing(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let mut res = next.run(request).await;
    let h = res.headers_mut();
    let policy = h.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if policy.contains("frame-ancestors") {
        return res;
    }
    let policy = if policy.is_empty() {
        "frame-ancestors 'none'".to_owned()
    } else {
        format!("{policy}; frame-ancestors 'none'")
    };
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// An answer to a request that names its reader (a token, or a session cookie) may hold a
/// private dataset: no shared cache may keep it. And any answer may differ by reader (a
/// private dataset is a 404 to others), so every one says it varies by both.
async fn private_to_reader(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let named = request.headers().contains_key(header::AUTHORIZATION)
        || request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(';').any(|pair| pair.trim().split('=').next() == Some(crate::accounts::COOKIE)));
    let mut res = next.run(request).await;
    let headers = res.headers_mut();
    headers.append(header::VARY, axum::http::HeaderValue::from_static("Authorization, Cookie"));
    let stricter = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-store") || v.contains("private"));
    if named && !stricter {
        headers.insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-cache"));
    }
    res
}

/// `Query` that answers malformed parameters in the API's own error shape.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::new(Code::InvalidParameter, e.body_text()))
    }
}

/// The scheme and host clients reached us by, for absolute URLs in responses. The `Host`
/// header was checked by [`known_host`] before any handler runs.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// Refuses a request whose `Host` the operator did not list: links built from it land in
/// responses that caches keep, some for good (pinned versions), so a forged one must never
/// get that far.
async fn known_host(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    if host_allowed(&state.config, host) {
        return next.run(request).await;
    }
    axum::response::IntoResponse::into_response(ApiError::new(
        Code::UnknownHost,
        "this portal does not answer for that host name; the operator lists its names in `allowed_hosts`",
    ))
}

/// Whether `host` (as the `Host` header gives it, perhaps with a port) is one to answer for.
pub fn host_allowed(config: &crate::Config, host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|n| format!("[{n}]")).unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default().to_owned(),
    };
    let public = config
        .public_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .map(|rest| rest.split('/').next().unwrap_or_default().to_ascii_lowercase());
    let listed: Vec<String> = config.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).chain(public).collect();
    if listed.is_empty() {
        return matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    }
    listed.iter().any(|allowed| *allowed == host || *allowed == name)
}

/// A version number from a path, or a 400 that says what was given.
pub(crate) fn version_number(raw: &str) -> ApiResult<u32> {
    raw.parse().map_err(|_| ApiError::new(Code::InvalidParameter, format!("`{raw}` is not a version number")))
}
