//! Usage on the web: a dataset's last 30 days, and `/popular`, the most used datasets.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};

use super::i18n::{Lang, t};
use super::layout::{lang_of, page, pairs, title_in, with};
use crate::api::stats::DatasetStats;
use crate::error::ApiResult;
use crate::state::AppState;

/// Days the dataset page and `/popular` cover.
pub(super) const DAYS: u32 = 30;

/// The most used datasets `/popular` lists.
const LISTED: usize = 50;

/// A dataset's use over the last [`DAYS`]: the sums, and a bar per day.
pub(super) fn section(lang: Lang, stats: &DatasetStats) -> Markup {
    let total = |d: &crate::api::stats::UsageCounts| d.views + d.downloads + d.api_calls;
    let top = stats.days.iter().map(|d| total(&d.counts)).max().unwrap_or(0).max(1) as f64;
    let width = 240.0 / stats.days.len().max(1) as f64;
    let sums = &stats.totals;
    let summary = format!(
        "{} {} · {} {} · {} {} ({})",
        sums.views,
        t(lang, "views"),
        sums.downloads,
        t(lang, "downloads"),
        sums.api_calls,
        t(lang, "api_calls"),
        t(lang, "last_30_days")
    );
    html! {
        section.usage {
            h2 { (t(lang, "usage")) }
            p { (summary) }
            svg.activity viewBox="0 0 240 40" width="240" height="40" role="img" aria-label=(summary) {
                title { (summary) }
                @for (i, day) in stats.days.iter().enumerate() {
                    @let n = total(&day.counts);
                    @let h = (n as f64 / top * 38.0).max(if n > 0 { 1.0 } else { 0.0 });
                    rect x=(format!("{:.1}", i as f64 * width)) y=(format!("{:.1}", 40.0 - h)) width=(format!("{:.1}", (width - 1.0).max(0.5))) height=(format!("{h:.1}")) {
                        title { (day.date) ": " (n) }
                    }
                }
            }
        }
    }
}

/// `/popular`: the datasets used most over the last [`DAYS`], with their counts.
pub(super) async fn popular(
    State(state): State<AppState>,
    reader: crate::reader::Reader,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let from = Utc::now().date_naive() - chrono::Days::new(u64::from(DAYS - 1));
    let listed = tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let catalog = state.store.catalog();
        // More than listed: some may be private to this reader, or withdrawn.
        let ranked = catalog.most_used(from, LISTED * 2)?;
        Ok(ranked
            .into_iter()
            .filter_map(|(id, usage)| reader.dataset(catalog, &id).ok().map(|d| (d, usage)))
            .take(LISTED)
            .collect::<Vec<_>>())
    })
    .await
    .map_err(|e| crate::error::ApiError::internal(format!("popular: {e}")))??;
    let body = html! {
        h1 { (t(lang, "most_used")) }
        p { (t(lang, "most_used_intro")) }
        @if listed.is_empty() {
            p { (t(lang, "nothing_used")) }
        } @else {
            table.popular {
                thead { tr {
                    th scope="col" { "#" }
                    th scope="col" { (t(lang, "dataset")) }
                    th scope="col" { (t(lang, "views")) }
                    th scope="col" { (t(lang, "downloads")) }
                    th scope="col" { (t(lang, "api_calls")) }
                } }
                tbody {
                    @for (i, (d, u)) in listed.iter().enumerate() {
                        tr {
                            td { (i + 1) }
                            th scope="row" {
                                a href=(with(&format!("/datasets/{}", d.meta.id), &pairs, "q", None)) {
                                    (title_in(lang, &d.meta.title, d.meta.title_en.as_deref()))
                                }
                            }
                            td { (u.views) } td { (u.downloads) } td { (u.api_calls) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(lang, "/popular", &pairs, t(lang, "most_used"), html! {}, body))
}
