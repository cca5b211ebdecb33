//! An organization's webhooks: register, list and remove them, and read their deliveries.
//! Its members manage them with their tokens; the deliveries are sent by
//! [`crate::webhooks`].

use std::net::ToSocketAddrs;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use opendata_datasets::{Delivery, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::write::json_body;
use crate::auth::{Caller, may_publish};
use crate::error::{ApiError, ApiResult, Code, Forbidden, Gone, Problem, RateLimited, Unauthorized};
use crate::state::AppState;

/// The longest URL a webhook may have.
const MAX_URL: usize = 2_000;
/// Deliveries a history lists.
const HISTORY: usize = 100;
/// Datasets one webhook may name (none: all of the organization's).
const MAX_DATASETS: usize = 100;

/// A webhook to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where each event is POSTed: `https://` (or `http://`) on a public address.
    #[schema(example = "https://news.example/hooks/opendata")]
    pub url: String,
    /// The datasets to follow, of this organization (at most 100); all of them when absent
    /// or empty.
    #[serde(default)]
    #[schema(example = json!(["population-by-aimag"]))]
    pub datasets: Vec<String>,
    /// The signing key (16 to 200 characters); one is made when absent.
    #[serde(default)]
    #[schema(example = "4c1f0b6e9a2d7e3f5b8c0a1d2e3f4a5b")]
    pub secret: Option<String>,
}

/// A registered webhook. `secret` is only in the answer that registered it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookInfo {
    #[schema(example = "wh-3f9c2a7d1b")]
    pub id: String,
    pub organization: String,
    pub url: String,
    pub datasets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl WebhookInfo {
    fn of(h: Webhook, with_secret: bool) -> Self {
        Self {
            id: h.id,
            organization: h.organization,
            url: h.url,
            datasets: h.datasets,
            secret: with_secret.then_some(h.secret),
            created_by: h.created_by,
            created_at: h.created_at,
        }
    }
}

/// One delivery of an event to a webhook, and how its attempts went.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryInfo {
    pub id: String,
    /// `pending` (with `due_at`), `delivered` or `failed`.
    #[schema(example = "delivered")]
    pub status: String,
    pub attempts: u32,
    pub due_at: DateTime<Utc>,
    /// The receiver's last HTTP status.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body that was (or will be) POSTed.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl From<Delivery> for DeliveryInfo {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            status: d.status.as_str().into(),
            attempts: d.attempts,
            due_at: d.due_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            event: d.event,
        }
    }
}

/// Register a webhook.
///
/// Each new version of the datasets it follows is POSTed to `url` as JSON (`event`:
/// `version.published`, the dataset, table, version, rows, changes and links), signed with
/// `X-Opendata-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`. A failed
/// delivery is retried with doubling waits (`webhooks.retry_secs`, `webhooks.max_attempts`).
#[utoipa::path(
    post, path = "/api/v1/organizations/{id}/webhooks", tag = "publish",
    params(("id" = String, Path, description = "Organization id", example = "nso")),
    request_body(content = NewWebhook, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered; the answer holds the secret, shown only now", body = WebhookInfo),
        (status = 400, description = "Invalid body, a URL on a private address, or too many webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such organization or dataset", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<WebhookInfo>)> {
    let new: NewWebhook = json_body(&body)?;
    may_publish(&caller.0, &org)?;
    let hook = tokio::task::spawn_blocking(move || register(&state, &caller.0.id, &org, new))
        .await
        .map_err(|e| ApiError::internal(format!("webhook task: {e}")))??;
    Ok((StatusCode::CREATED, Json(WebhookInfo::of(hook, true))))
}

/// Checks and stores a webhook. Blocking: it resolves the URL's host.
fn register(state: &AppState, user: &str, org: &str, new: NewWebhook) -> ApiResult<Webhook> {
    let catalog = state.store.catalog();
    catalog.organization(org)?;
    let existing = catalog.webhooks_of(org)?;
    let max = state.config.webhooks.max_per_organization;
    if existing.len() >= max {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("`{org}` has {max} webhooks (webhooks.max_per_organization); remove one first"),
        ));
    }
    if new.datasets.len() > MAX_DATASETS {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("a webhook follows at most {MAX_DATASETS} datasets; leave `datasets` empty for all of them"),
        ));
    }
    for id in &new.datasets {
        let d = catalog.dataset(id)?;
        if d.meta.organization != org {
            return Err(ApiError::new(Code::Forbidden, format!("`{id}` is not a dataset of `{org}`")));
        }
    }
    check_target(&new.url, &state.config.webhooks.allow_networks)?;
    let secret = match new.secret {
        Some(s) if s.chars().count() >= 16 && s.len() <= 200 => s,
        Some(_) => return Err(ApiError::new(Code::InvalidParameter, "`secret` is 16 to 200 characters")),
        None => crate::accounts::secret(24).map_err(ApiError::internal)?,
    };
    let hook = Webhook {
        id: format!("wh-{}", crate::accounts::secret(5).map_err(ApiError::internal)?),
        organization: org.to_owned(),
        url: new.url,
        secret,
        datasets: new.datasets,
        created_by: user.to_owned(),
        created_at: Utc::now(),
    };
    catalog.put_webhook(&hook)?;
    Ok(hook)
}

/// A receiver must be `http(s)://` on addresses that are public or allowed; the fence checks
/// again at each connection, so a name that moves later gets nowhere either.
fn check_target(url: &str, allowed: &[String]) -> ApiResult<()> {
    let bad = |why: String| ApiError::new(Code::InvalidParameter, format!("`url` {why}"));
    if url.len() > MAX_URL {
        return Err(bad(format!("is longer than {MAX_URL} characters")));
    }
    let parsed: axum::http::Uri = url.parse().map_err(|_| bad("is not a URL".into()))?;
    let port = match parsed.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => return Err(bad("must start with https:// or http://".into())),
    };
    let host = parsed.host().filter(|h| !h.is_empty()).ok_or_else(|| bad("has no host".into()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let allowed = crate::fetch::networks(allowed, "webhooks.allow_networks").map_err(ApiError::internal)?;
    let refused = || {
        ApiError::new(
            Code::TargetNotAllowed,
            format!("`{host}` is not a public address (webhooks.allow_networks lists exceptions)"),
        )
    };
    let addrs: Vec<_> = (host, parsed.port_u16().unwrap_or(port)).to_socket_addrs().map_err(|_| refused())?.collect();
    if addrs.is_empty() || !addrs.iter().all(|a| crate::fetch::reachable(a.ip(), &allowed)) {
        return Err(refused());
    }
    Ok(())
}

/// List an organization's webhooks (without their secrets).
#[utoipa::path(
    get, path = "/api/v1/organizations/{id}/webhooks", tag = "publish",
    params(("id" = String, Path, description = "Organization id", example = "nso")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The webhooks, oldest first", body = Vec<WebhookInfo>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Path(org): Path<String>,
    caller: Caller,
) -> ApiResult<Json<Vec<WebhookInfo>>> {
    may_publish(&caller.0, &org)?;
    let hooks = state.store.catalog().webhooks_of(&org)?;
    Ok(Json(hooks.into_iter().map(|h| WebhookInfo::of(h, false)).collect()))
}

/// Remove a webhook; its pending deliveries are dropped with it.
#[utoipa::path(
    delete, path = "/api/v1/organizations/{id}/webhooks/{webhook}", tag = "publish",
    params(
        ("id" = String, Path, description = "Organization id", example = "nso"),
        ("webhook" = String, Path, description = "Webhook id", example = "wh-3f9c2a7d1b"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    may_publish(&caller.0, &org)?;
    hook_of(&state, &org, &id)?;
    state.store.catalog().remove_webhook(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries, newest first.
#[utoipa::path(
    get, path = "/api/v1/organizations/{id}/webhooks/{webhook}/deliveries", tag = "publish",
    params(
        ("id" = String, Path, description = "Organization id", example = "nso"),
        ("webhook" = String, Path, description = "Webhook id", example = "wh-3f9c2a7d1b"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The last 100 deliveries, newest first", body = Vec<DeliveryInfo>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<Json<Vec<DeliveryInfo>>> {
    may_publish(&caller.0, &org)?;
    hook_of(&state, &org, &id)?;
    let list = state.store.catalog().deliveries_of(&id, HISTORY)?;
    Ok(Json(list.into_iter().map(DeliveryInfo::from).collect()))
}

fn hook_of(state: &AppState, org: &str, id: &str) -> ApiResult<Webhook> {
    let hooks = state.store.catalog().webhooks_of(org)?;
    hooks
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| ApiError::new(Code::WebhookNotFound, format!("`{org}` has no webhook `{id}`")))
}
