//! How much a dataset is used: `GET /api/v1/datasets/{id}/stats`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{NaiveDate, Utc};
use opendata_datasets::Usage;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiQuery;
use crate::error::{ApiError, ApiResult, Code, Gone, Problem, RateLimited};
use crate::reader::Reader;
use crate::state::AppState;

/// The longest period one answer covers.
pub const MAX_DAYS: u32 = 366;

/// Usage parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Days to cover, ending today (UTC): default 30, at most 366.
    #[param(example = 30, minimum = 1, maximum = 366)]
    pub days: Option<u32>,
}

/// Counts of one period.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct UsageCounts {
    /// Dataset pages and embeds seen in a browser.
    #[schema(example = 120)]
    pub views: u64,
    /// Whole files taken: table downloads, documents, originals and change sets.
    #[schema(example = 35)]
    pub downloads: u64,
    /// Other API reads: metadata, rows and reports.
    #[schema(example = 410)]
    pub api_calls: u64,
}

impl From<Usage> for UsageCounts {
    fn from(u: Usage) -> Self {
        Self { views: u.views, downloads: u.downloads, api_calls: u.api_calls }
    }
}

/// One day's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDay {
    /// The day, in UTC.
    #[schema(value_type = String, format = Date, example = "2026-11-30")]
    pub date: NaiveDate,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// A dataset's usage over a period: every day of it, oldest first, and the sums.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetStats {
    #[schema(example = "population-by-aimag")]
    pub dataset: String,
    #[schema(value_type = String, format = Date, example = "2026-11-01")]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date, example = "2026-11-30")]
    pub to: NaiveDate,
    pub totals: UsageCounts,
    pub days: Vec<UsageDay>,
}

/// A dataset's usage per day.
///
/// Views, downloads and API calls of each day (UTC), counted on successful reads only and
/// with nothing kept about the reader. Counts reach the catalog every `usage.flush_secs`;
/// the node that answers adds what it counted since.
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}/stats", tag = "catalog",
    params(("id" = String, Path, description = "Dataset id", example = "population-by-aimag"), StatsParams),
    responses(
        (status = 200, description = "Usage per day", body = DatasetStats),
        (status = 400, description = "`days` is out of range", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dataset", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn dataset_stats(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: Reader,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> ApiResult<Json<DatasetStats>> {
    let days = p.days.unwrap_or(30);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::new(Code::InvalidParameter, format!("`days` is from 1 to {MAX_DAYS}")));
    }
    let stats = tokio::task::spawn_blocking(move || -> ApiResult<DatasetStats> {
        let dataset = reader.dataset(state.store.catalog(), &id)?;
        Ok(usage_of(&state, &dataset.meta.id, days)?)
    })
    .await
    .map_err(|e| ApiError::internal(format!("stats task: {e}")))??;
    Ok(Json(stats))
}

/// A dataset's usage over the `days` ending today, every day filled in. Blocking.
pub(crate) fn usage_of(state: &AppState, id: &str, days: u32) -> opendata_datasets::Result<DatasetStats> {
    let to = Utc::now().date_naive();
    let from = to - chrono::Days::new(u64::from(days.saturating_sub(1)));
    let mut by_day: BTreeMap<NaiveDate, Usage> =
        from.iter_days().take(days as usize).map(|d| (d, Usage::default())).collect();
    let recorded = state.store.catalog().usage(id, from)?;
    for (day, usage) in recorded.into_iter().chain(state.usage.pending_for(id)) {
        if let Some(sum) = by_day.get_mut(&day) {
            *sum += usage;
        }
    }
    let mut totals = Usage::default();
    for u in by_day.values() {
        totals += *u;
    }
    Ok(DatasetStats {
        dataset: id.to_owned(),
        from,
        to,
        totals: totals.into(),
        days: by_day.into_iter().map(|(date, u)| UsageDay { date, counts: u.into() }).collect(),
    })
}
