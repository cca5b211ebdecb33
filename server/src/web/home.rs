//! `/`: counts, recent datasets and organizations.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::html;

use super::i18n::t;
use super::layout::{card, lang_of, page, pairs, title_in, with};
use crate::error::ApiResult;
use crate::state::AppState;

pub(super) async fn home(
    State(state): State<AppState>,
    reader: crate::reader::Reader,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    // Public counts, whoever reads: the front page says what the portal publishes.
    let totals = catalog.totals()?;
    let mut recent = reader.datasets(catalog)?;
    recent.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
    let orgs = catalog.organizations()?;
    let body = html! {
        section.hero {
            h1 { (t(lang, "tagline")) }
            p.counts {
                strong { (totals.datasets) } " " (t(lang, "datasets")) " · "
                strong { (totals.organizations) } " " (t(lang, "organizations")) " · "
                strong { (totals.rows) } " " (t(lang, "rows"))
            }
        }
        section {
            h2 { (t(lang, "recent")) }
            ul.cards {
                @for d in recent.iter().take(8) {
                    li { (card(lang, d, &pairs)) }
                }
            }
        }
        section {
            h2 { (t(lang, "organizations")) }
            ul.orgs {
                @for o in &orgs {
                    li { a href=(with(&format!("/organizations/{}", o.id), &pairs, "q", None)) { (title_in(lang, &o.title, o.title_en.as_deref())) } }
                }
            }
        }
    };
    Ok(page(lang, "/", &pairs, t(lang, "tagline"), html! {}, body))
}
