//! Withdrawing a dataset (a soft delete: its address answers `410 Gone` with the reason)
//! and restoring it. Both are for an admin of its organization (or a site admin): editors
//! publish, admins decide what leaves.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use opendata_datasets::{Change, User};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::DatasetDetail;
use super::write::audited;
use super::{ApiQuery, base_url};
use crate::auth::{Caller, may_administer};
use crate::error::{ApiError, ApiResult, Code, Forbidden, Problem, RateLimited, Unauthorized};
use crate::state::AppState;

/// Why a dataset is withdrawn.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithdrawParams {
    /// Shown to everyone who follows a link to it afterwards (`410 Gone`).
    #[param(example = "replaced by road-accidents-2025, which counts injuries too")]
    pub reason: Option<String>,
}

/// Withdraw a dataset.
///
/// It leaves the search index and every listing; its address then answers `410 Gone` with
/// the reason given, until an admin restores it (`POST …/restore`). Only an admin of the organization (or a site admin)
/// may withdraw; editors publish.
#[utoipa::path(
    delete, path = "/api/v1/datasets/{id}", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id", example = "road-accidents"), WithdrawParams),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Already withdrawn", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn withdraw_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<WithdrawParams>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    withdraw(&state, &caller.0, &id, p.reason.as_deref().unwrap_or_default())?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraws dataset `id` for `user`, an admin of its organization: audited, out of search
/// at once, and its queued uploads cancelled.
pub(crate) fn withdraw(state: &AppState, user: &User, id: &str, reason: &str) -> ApiResult<()> {
    let catalog = state.store.catalog();
    let meta = catalog.dataset(id)?.meta.clone();
    may_administer(user, &meta.organization)?;
    let reason: String = reason.trim().chars().take(1000).collect();
    let withdrawal = opendata_datasets::Withdrawal {
        dataset: id.to_owned(),
        organization: meta.organization.clone(),
        title: meta.title.clone(),
        reason: if reason.is_empty() { "withdrawn by its publisher".into() } else { reason },
        at: Utc::now(),
        by: user.id.clone(),
        private: meta.private,
    };
    audited(state, user, Change::Withdraw(&withdrawal), "dataset.withdraw", id, meta.title)?;
    catalog.cancel_queued_jobs(id, "the dataset was withdrawn before the upload ran")?;
    state.index.remove(id)?;
    Ok(())
}

/// Brings withdrawn dataset `id` back for `user`, an admin of the organization that
/// withdrew it: as it was, with every version, and searchable again.
pub(crate) fn restore(state: &AppState, user: &User, id: &str) -> ApiResult<()> {
    let catalog = state.store.catalog();
    let Some(withdrawal) = catalog.withdrawal(id)? else {
        return match catalog.dataset(id) {
            Ok(_) => Err(ApiError::new(Code::NothingToRestore, format!("dataset `{id}` is not withdrawn"))),
            Err(e) => Err(e.into()),
        };
    };
    may_administer(user, &withdrawal.organization)?;
    audited(state, user, Change::Restore(id), "dataset.restore", id, withdrawal.reason)?;
    crate::publish::index_dataset(&state.store, &state.index, id).map_err(ApiError::internal)
}

/// Restore a withdrawn dataset.
///
/// It comes back as it was withdrawn: metadata, every version, documents, and its place in
/// search. Only an admin of its organization (or a site admin) may restore it.
#[utoipa::path(
    post, path = "/api/v1/datasets/{id}/restore", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id", example = "road-accidents")),
    responses(
        (status = 200, description = "Restored: the dataset as it now is", body = DatasetDetail),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such dataset", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The dataset is not withdrawn", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn restore_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Json<DatasetDetail>> {
    restore(&state, &caller.0, &id)?;
    let dataset = state.store.catalog().dataset(&id)?;
    Ok(Json(DatasetDetail::new(&dataset, &base_url(&state, &headers))))
}
