//! Usage counting: views, downloads and API calls per dataset and UTC day.
//!
//! A request only bumps a counter in memory; a task adds the counts to the catalog every
//! `usage.flush_secs` (and at shutdown), so reading a dataset never writes to the catalog
//! and any number of nodes can count at once. Nothing about the reader is kept: no
//! address, agent or token, only which dataset, which day and what kind of use.
//!
//! Only successful reads count, so a stranger asking for made-up ids cannot grow the
//! tallies: their keys are datasets that exist, times the days since the last flush.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use opendata_datasets::{DailyUsage, Usage};

use crate::state::AppState;

/// What kind of use a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    View,
    Download,
    Api,
}

/// This node's counts since its last flush, and the ranking `sort=popular` reads.
#[derive(Debug, Default)]
pub struct Tally {
    pending: Mutex<HashMap<NaiveDate, HashMap<String, Usage>>>,
    /// Each dataset's total over `usage.popular_days`, as of the last flush.
    popularity: RwLock<Arc<HashMap<String, u64>>>,
}

impl Tally {
    pub fn count(&self, dataset: &str, kind: Kind) {
        self.count_on(Utc::now().date_naive(), dataset, kind);
    }

    fn count_on(&self, day: NaiveDate, dataset: &str, kind: Kind) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let of_day = pending.entry(day).or_default();
        // Allocates the dataset's key only the first time it is counted in a flush period.
        let usage = match of_day.get_mut(dataset) {
            Some(u) => u,
            None => of_day.entry(dataset.to_owned()).or_default(),
        };
        let n = match kind {
            Kind::View => &mut usage.views,
            Kind::Download => &mut usage.downloads,
            Kind::Api => &mut usage.api_calls,
        };
        *n = n.saturating_add(1);
    }

    /// Everything counted since the last take.
    fn take(&self) -> Vec<DailyUsage> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        pending
            .into_iter()
            .flat_map(|(day, of_day)| {
                of_day.into_iter().map(move |(dataset, usage)| DailyUsage { dataset, day, usage })
            })
            .collect()
    }

    /// Counts a flush could not write, kept for the next one.
    fn put_back(&self, counts: Vec<DailyUsage>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for c in counts {
            *pending.entry(c.day).or_default().entry(c.dataset).or_default() += c.usage;
        }
    }

    /// One dataset's counts not yet written, by day.
    pub fn pending_for(&self, dataset: &str) -> Vec<(NaiveDate, Usage)> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.iter().filter_map(|(day, of_day)| of_day.get(dataset).map(|u| (*day, *u))).collect()
    }

    /// Each dataset's recent total, for ranking; empty until the first flush.
    pub fn popularity(&self) -> Arc<HashMap<String, u64>> {
        self.popularity.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes the pending counts to the catalog and reloads the ranking. Blocking.
    pub fn flush(&self, state: &AppState) -> opendata_datasets::Result<()> {
        let counts = self.take();
        if !counts.is_empty()
            && let Err(e) = state.store.catalog().add_usage(&counts)
        {
            self.put_back(counts);
            return Err(e);
        }
        let from = Utc::now().date_naive() - chrono::Days::new(u64::from(state.config.usage.popular_days));
        let ranked = state.store.catalog().most_used(from, usize::MAX)?;
        let ranking = ranked.into_iter().map(|(id, u)| (id, u.total())).collect();
        *self.popularity.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ranking);
        Ok(())
    }
}

/// Flushes every `usage.flush_secs` until `stop` resolves, then once more.
pub async fn run(state: AppState, stop: impl std::future::Future<Output = ()>) {
    if !state.config.usage.enabled {
        // Nothing to count here, but `sort=popular` still ranks by what was recorded.
        flush(&state).await;
        return;
    }
    tokio::pin!(stop);
    let every = Duration::from_secs(state.config.usage.flush_secs.max(1));
    loop {
        flush(&state).await;
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = &mut stop => break,
        }
    }
    flush(&state).await;
}

/// One flush, on a blocking thread (catalog calls are synchronous).
pub async fn flush(state: &AppState) {
    let state = state.clone();
    let done = tokio::task::spawn_blocking(move || state.usage.flush(&state)).await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(%e, "cannot write usage counts; keeping them for the next flush"),
        Err(e) => tracing::warn!(%e, "usage flush failed"),
    }
}

/// Middleware: counts a successful read of a dataset by its route.
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.config.usage.enabled || request.method() != Method::GET {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let counted = match MatchedPath::from_request_parts(&mut parts, &()).await {
        Ok(route) => match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(params) => kind_of(route.as_str(), &params),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let from_start = parts
        .headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|r| r.trim_start_matches("bytes=").starts_with("0-"));
    let response = next.run(Request::from_parts(parts, body)).await;
    if let Some((kind, dataset)) = counted {
        // A download resumed or fetched in ranges counts once: by the range from its start.
        let whole = response.status() == StatusCode::OK
            || (response.status() == StatusCode::PARTIAL_CONTENT && kind == Kind::Download && from_start);
        if whole {
            state.usage.count(&dataset, kind);
        }
    }
    response
}

/// Which dataset a route reads, and how; `None` for routes that are not one dataset's.
fn kind_of(route: &str, params: &RawPathParams) -> Option<(Kind, String)> {
    let id = params.iter().find(|(k, _)| *k == "id" || *k == "file").map(|(_, v)| v)?;
    let kind = match route {
        "/datasets/{file}" => {
            // The page itself; `.atom` and the RDF forms are metadata read by programs.
            match id.rsplit_once('.') {
                None => (Kind::View, id),
                Some((stem, _)) => (Kind::Api, stem),
            }
        }
        "/datasets/{id}/embed" => (Kind::View, id),
        // `rows.json`, `rows.csv`… are the rows API in another encoding; `data.*` whole files.
        "/api/v1/datasets/{id}/tables/{table}/{file}"
            if params.iter().any(|(k, v)| k == "file" && v.starts_with("rows.")) =>
        {
            (Kind::Api, id)
        }
        "/api/v1/datasets/{id}/tables/{table}/{file}"
        | "/api/v1/datasets/{id}/resources/{resource}"
        | "/api/v1/datasets/{id}/tables/{table}/versions/{version}/source"
        | "/api/v1/datasets/{id}/tables/{table}/versions/{version}/{file}" => (Kind::Download, id),
        "/api/v1/datasets/{id}"
        | "/api/v1/datasets/{id}/tables/{table}/rows"
        | "/api/v1/datasets/{id}/tables/{table}/versions/{version}/report"
        | "/datasets/{id}/datapackage.json"
        | "/datasets/{id}/schema.json"
        | "/datasets/{id}/chart.svg" => (Kind::Api, id),
        _ => return None,
    };
    Some((kind.0, kind.1.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_day_and_kind_and_survive_a_failed_flush() {
        let tally = Tally::default();
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let next = day.succ_opt().unwrap();
        for _ in 0..3 {
            tally.count_on(day, "a", Kind::View);
        }
        tally.count_on(day, "a", Kind::Download);
        tally.count_on(next, "a", Kind::Api);
        tally.count_on(day, "b", Kind::Api);
        let mut a = tally.pending_for("a");
        a.sort_by_key(|(d, _)| *d);
        assert_eq!(
            a,
            vec![
                (day, Usage { views: 3, downloads: 1, api_calls: 0 }),
                (next, Usage { views: 0, downloads: 0, api_calls: 1 })
            ]
        );
        let taken = tally.take();
        assert_eq!(taken.len(), 3);
        assert!(tally.pending_for("a").is_empty());
        // A failed write puts them back, added to what came meanwhile.
        tally.count_on(day, "a", Kind::View);
        tally.put_back(taken);
        let a: HashMap<_, _> = tally.pending_for("a").into_iter().collect();
        assert_eq!(a[&day], Usage { views: 4, downloads: 1, api_calls: 0 });
        assert_eq!(tally.take().iter().map(|c| c.usage.total()).sum::<u64>(), 7);
    }
}
